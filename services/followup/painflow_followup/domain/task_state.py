"""What happens to an outcome-collection Task after it is scheduled: overdue, completed,
cancelled, and which open Task an outcome answers. Pure: each function returns a new dict.

A window's end is inclusive at the precision it is written in (FHIR Period semantics):
``2026-10-30T23:59:59Z`` includes that whole second, so the Task is overdue from
``2026-10-31T00:00:00Z`` on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from painflow_followup.domain.timing import add_months
from painflow_shared.codes import CodeSystem, FollowupStatus, coding
from painflow_shared.fhir.dates import fhir_instant, parse_fhir_date

Resource = dict[str, Any]
CLOSED_STATUSES = frozenset({"completed", "cancelled", "failed", "rejected", "entered-in-error"})
OVERDUE_TEXT = "No outcome collected by the end of the window"
LATE_TEXT = "collected late"


def overdue_business_status() -> dict[str, Any]:
    """The businessStatus an overdue outcome-collection Task carries."""
    return {"coding": [coding(FollowupStatus.OVERDUE, "Overdue")], "text": OVERDUE_TEXT}


def window_closes(task: Resource) -> datetime | None:
    """The first moment after the window (exclusive end), or None when there is no end."""
    text = ((task.get("restriction") or {}).get("period") or {}).get("end")
    end = parse_fhir_date(text)
    if end is None or not isinstance(text, str):
        return None
    if "T" not in text:  # a date: the whole day, month or year
        return {4: add_months(end, 12), 7: add_months(end, 1)}.get(len(text), end + timedelta(1))
    has_fraction = "." in text.partition("T")[2]
    return end + (timedelta(microseconds=1) if has_fraction else timedelta(seconds=1))


def overdue(task: Resource, now: datetime) -> bool:
    """Still open (not completed, cancelled or otherwise closed) after its window's end."""
    closes = window_closes(task)
    return task.get("status") not in CLOSED_STATUSES and closes is not None and now >= closes


def marked_overdue(task: Resource) -> bool:
    """Whether the Task already carries the overdue businessStatus (published once)."""
    codings = (task.get("businessStatus") or {}).get("coding") or []
    return any(
        c.get("system") == CodeSystem.FOLLOWUP_STATUS and c.get("code") == FollowupStatus.OVERDUE
        for c in codings
    )


def needs_overdue_mark(task: Resource, now: datetime) -> bool:
    """Overdue and not yet marked: the overdue job marks it and publishes one event."""
    return overdue(task, now) and not marked_overdue(task)


def mark_overdue(task: Resource, now: datetime) -> Resource:
    """The Task with the overdue businessStatus; its status stays open (it may still come)."""
    return {**task, "businessStatus": overdue_business_status(), "lastModified": fhir_instant(now)}


def complete_outcome_task(task: Resource, *, output_reference: str, now: datetime) -> Resource:
    """The Task completed by an outcome (a QuestionnaireResponse or Observation reference)."""
    done: Resource = {
        **task,
        "status": "completed",
        "lastModified": fhir_instant(now),
        "output": [
            {"type": {"text": "outcome"}, "valueReference": {"reference": output_reference}}
        ],
    }
    closes = window_closes(task)
    if closes is not None and now >= closes:
        done["businessStatus"] = {"text": LATE_TEXT}
    return done


def cancel_outcome_task(task: Resource, *, reason: str, now: datetime) -> Resource:
    """The Task cancelled (referral cancelled, order revoked); a closed Task stays as it is."""
    if task.get("status") in CLOSED_STATUSES:
        return task
    return {
        **task,
        "status": "cancelled",
        "statusReason": {"text": reason},
        "lastModified": fhir_instant(now),
    }


def task_for_outcome(
    tasks: Iterable[Resource], procedure_reference: str, moment: datetime
) -> Resource | None:
    """The open Task an outcome of ``procedure_reference`` at ``moment`` answers.

    The one whose window holds ``moment``; otherwise the earliest already opened (a late
    answer); None when every open window is still in the future (too early to count).
    """
    candidates = sorted(
        (t for t in tasks if _open_for(t, procedure_reference)), key=lambda t: _start(t) or moment
    )
    opened = [t for t in candidates if (_start(t) or moment) <= moment]
    within = [t for t in opened if moment < (window_closes(t) or moment + timedelta(1))]
    found = within or opened
    return found[0] if found else None


def _open_for(task: Resource, procedure_reference: str) -> bool:
    focus = (task.get("focus") or {}).get("reference")
    return task.get("status") not in CLOSED_STATUSES and focus == procedure_reference


def _start(task: Resource) -> datetime | None:
    return parse_fhir_date(((task.get("restriction") or {}).get("period") or {}).get("start"))
