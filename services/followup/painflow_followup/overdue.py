"""The overdue job (issue 11 item 4): an outcome Task still open after its window gets the
overdue ``businessStatus`` and one ``followup-overdue`` event.

Safe with several replicas: each pass locks the due rows of ``followup_outcome_task`` with
``SELECT ... FOR UPDATE SKIP LOCKED`` inside a unit of work, so two replicas never take the same
Task, and a row marked once is never selected again (SQLite ignores the lock: run one replica
there). ``OverdueJob`` runs the pass every ``FOLLOWUP_OVERDUE_INTERVAL_SECONDS`` in a thread
started with the service; tests call ``mark_overdue_tasks`` directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, select

from painflow_followup.context import FollowupContext, aware
from painflow_followup.domain.task_state import mark_overdue, needs_overdue_mark
from painflow_followup.tables import OutcomeTask
from painflow_shared.events.types import FollowupEvent

log = logging.getLogger(__name__)
BATCH = 50


def mark_overdue_tasks(
    run: Callable[[Callable[[FollowupContext], int]], int], now: datetime
) -> int:
    """Mark every Task due by ``now``, a batch per unit of work; how many were marked."""
    total = 0
    while True:
        taken = 0

        def one_batch(ctx: FollowupContext) -> int:
            nonlocal taken
            rows = _due(ctx, now)
            taken = len(rows)
            return sum(_mark(ctx, row, now) for row in rows)

        marked = run(one_batch)
        total += marked
        if taken < BATCH:
            return total


def _due(ctx: FollowupContext, now: datetime) -> list[OutcomeTask]:
    query = (
        select(OutcomeTask)
        .where(
            col(OutcomeTask.open).is_(True),
            col(OutcomeTask.overdue_marked).is_(False),
            OutcomeTask.window_end <= aware(now),
        )
        .order_by(col(OutcomeTask.window_end))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    return list(ctx.session.exec(query).all())


def _mark(ctx: FollowupContext, row: OutcomeTask, now: datetime) -> int:
    row.overdue_marked = True
    ctx.session.add(row)
    task = ctx.store.read("Task", row.task_id)
    if not needs_overdue_mark(task, now):
        return 0  # closed meanwhile, or marked by hand: nothing to announce
    marked, _ = ctx.store.update(mark_overdue(task, now))
    ctx.uow.publish(
        FollowupEvent.FOLLOWUP_OVERDUE,
        patient_id=row.patient_id,
        focus=[marked],
        include=[ctx.patient(row.patient_id)],
    )
    return 1


class OverdueJob:
    """Runs ``mark_overdue_tasks`` every ``interval`` seconds until stopped."""

    def __init__(self, tick: Callable[[], int], interval: float) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="followup-overdue", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                marked = self._tick()
                if marked:
                    log.info("overdue job: %d outcome Task(s) marked overdue", marked)
            except Exception as exc:  # the next pass tries again; never kill the thread
                log.warning("overdue job failed: %s", exc.__class__.__name__)
