"""SQL statements per referral POST and per consumed event, against issue 12's budget.

A count of round trips to PostgreSQL is stable where a time is not: each statement is one round
trip, and before this budget a referral POST took about 49 of them one at a time. The counts
are taken on the real services (the ``platform`` fixture, real PostgreSQL), on the engine of the
service doing the work, in the thread doing it: the POST's worker thread for the referral, the
assessment consumer's thread for the event it handles.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import Platform, wait_for

from .conftest import post_referral

pytestmark = pytest.mark.integration

# issue 12's budget: at most 12 statements per referral POST and 3 per consumed event.
# A referral POST takes 3 (was 49): the Patient match and the referral identifier check (two
# SELECTs), then at the commit ONE statement for every row it inserts (fhir_resource, history,
# search index, referral_patient_identity, referral_case, event_outbox, audit_record:
# data-modifying CTEs over unnest arrays, staged_inserts.py). The budget holds it there.
REFERRAL_POST_BUDGET = 3
# A consumer handles each polled batch in one transaction (events/batch.py): it reads the rows
# its handlers will look up for the whole batch (ServiceDeclaration.preload: one query per
# table), the handlers stage their writes, and at the commit one statement inserts them all
# with the batch's inbox rows (the claim: an event already there rolls the batch back). So a
# referral event in a backlog costs no statement of its own, and one that arrives alone its
# batch's 3 (was 25).
CONSUMED_EVENT_BUDGET = 3
BACKLOG = 12
# the assessment, per transaction: the worklist rows and the record's copies (one query each),
# then one statement for the inbox, worklist, copies, history and index rows (0.25 per event for
# a backlog of 12 in one batch; 0.5 before the one statement, 6.3 before the preload).
ASSESSMENT_PER_EVENT, ASSESSMENT_PER_BATCH = 0, 3
# scheduling, per transaction: the same shape (followed referrals instead of worklist rows).
SCHEDULING_PER_EVENT, SCHEDULING_PER_BATCH = 0, 3
# the follow-up, per transaction: the journey rows and the copies (one query each), one
# statement for the inbox, journey and copy rows (12.2 per event before any of this).
FOLLOWUP_PER_EVENT, FOLLOWUP_PER_BATCH = 0, 3


class Statements:
    """The statements an engine ran in the threads ``counts`` accepts, by kind."""

    def __init__(self, counts: Callable[[str], bool]) -> None:
        self.counts = counts
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counts(threading.current_thread().name):
            with self._lock:
                self.seen.append(statement)

    def by_kind(self) -> Counter[str]:
        return Counter(s.lstrip().split(None, 1)[0].upper() for s in self.seen)

    def report(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind().items()))
        lines = "\n".join(" ".join(s.split())[:160] for s in self.seen)
        return f"{len(self.seen)} statements ({kinds}):\n{lines}"


@contextmanager
def counting(engine: Engine, counts: Callable[[str], bool]) -> Iterator[Statements]:
    statements = Statements(counts)
    event.listen(engine, "before_cursor_execute", statements)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", statements)


def _request_thread(name: str) -> bool:
    """The threads FastAPI runs a route's blocking work in (not the relay, not a consumer)."""
    return name.startswith("AnyIO worker thread")


def _consumer_thread(name: str) -> bool:
    return name.startswith("consumer-")


def test_a_referral_post_stays_within_its_statement_budget(platform: Platform) -> None:
    post_referral(platform)  # warm: the first request of a process loads and caches more
    with counting(platform.runtime("referral").engine, _request_thread) as statements:
        post_referral(platform, referral_bundle())
    assert statements.seen, "no statement was counted: the thread filter no longer matches"
    assert len(statements.seen) <= REFERRAL_POST_BUDGET, statements.report()
    audit = [s for s in statements.seen if "INSERT INTO audit_record" in s]
    assert len(audit) == 1, statements.report()  # in the transaction of the write it audits


def test_a_consumed_referral_event_stays_within_its_statement_budget(
    platform: Platform,
) -> None:
    consumers = platform.runtime("assessment").consumers

    def handled() -> int:
        return sum(c.stats.handled for c in consumers)

    post_referral(platform)  # warm the consumer too
    before = _settled(handled)
    with counting(platform.runtime("assessment").engine, _consumer_thread) as statements:
        post_referral(platform, referral_bundle())
        wait_for(lambda: handled() > before, what="the referral's event")
        events = _settled(handled) - before
    assert len(statements.seen) <= CONSUMED_EVENT_BUDGET * events, (
        f"{events} event(s): " + statements.report()
    )


def _settled(handled: Callable[[], int], quiet: float = 1.0) -> int:
    """The consumer's handled count once it has not moved for ``quiet`` seconds."""
    seen = [handled(), time.monotonic()]

    def still() -> bool:
        now = handled()
        if now != seen[0]:
            seen[:] = [now, time.monotonic()]
        return time.monotonic() - float(seen[1]) >= quiet

    wait_for(still, what="the consumer to go quiet")
    return int(seen[0])


BACKLOG_BUDGETS = {  # service: (statements per event, per transaction)
    "assessment": (ASSESSMENT_PER_EVENT, ASSESSMENT_PER_BATCH),
    "scheduling": (SCHEDULING_PER_EVENT, SCHEDULING_PER_BATCH),
    "followup": (FOLLOWUP_PER_EVENT, FOLLOWUP_PER_BATCH),
}


@pytest.mark.parametrize("service", sorted(BACKLOG_BUDGETS))
def test_a_backlog_of_referral_events_is_consumed_in_batches_within_budget(
    platform: Platform, service: str
) -> None:
    """The service's consumer stopped while referrals arrive, then started: it finds them
    waiting and handles them in batches (one transaction each). The follow-up keeps a journey
    row and a copy of each resource an event carries (it took the most statements per event)."""
    statements, events = _consume_backlog(platform, service)
    transactions = _transactions(statements, events)
    per_event, per_batch = BACKLOG_BUDGETS[service]
    budget = per_event * events + per_batch * transactions
    assert len(statements.seen) <= budget, _per_event(statements, events)


def _consume_backlog(platform: Platform, service: str) -> tuple[Statements, int]:
    """Stop ``service``'s consumers, post ``BACKLOG`` referrals, start them again: the
    statements they ran handling the backlog, and how many events they handled."""
    consumers = platform.runtime(service).consumers
    post_referral(platform)  # warm

    def handled() -> int:
        return sum(c.stats.handled for c in consumers)

    before = _settled(handled)
    for consumer in consumers:
        consumer.stop()
    try:
        for _ in range(BACKLOG):
            post_referral(platform, referral_bundle())
        relay = platform.runtime("referral").relay
        assert relay is not None
        wait_for(lambda: relay.backlog().pending == 0, what="the referral events published")
    finally:
        with counting(platform.runtime(service).engine, _consumer_thread) as statements:
            for consumer in consumers:
                consumer.start()
            wait_for(lambda: handled() >= before + BACKLOG, what="the backlog handled")
            events = _settled(handled) - before
    assert events >= BACKLOG
    return statements, events


def _transactions(statements: Statements, events: int) -> int:
    """Each transaction (a batch) claims its events' inbox rows in the statement that writes its
    rows; a backlog comes in a few batches (at most a third as many as its events), not one at
    a time."""
    inbox = [s for s in statements.seen if "INSERT INTO event_inbox" in s]
    assert 0 < len(inbox) <= events // 3, statements.report()
    return len(inbox)


def _per_event(statements: Statements, events: int) -> str:
    return f"{len(statements.seen) / events:.2f} per event; " + statements.report()
