"""Running intake work in one database transaction, and the Bundle interactions on top of it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from painflow_referral import responses
from painflow_referral.context import IntakeContext
from painflow_referral.intake import submit_transaction
from painflow_shared.disconnect import WorkAbandoned, stop_if_cancelled
from painflow_shared.fhir.errors import Conflict, FhirError, InvalidRequest
from painflow_shared.fhir.parse import parse_resource

T = TypeVar("T")


def run_in_transaction(
    app: FastAPI,
    work: Callable[[IntakeContext], T],
    cancelled: threading.Event | None = None,
) -> T:
    """Commit ``work``'s writes and events together, or nothing. A unique-key race (the same
    referral posted twice at once) is retried once, when the first one's rows are visible.
    If ``cancelled`` is set (the client left) by the time the work is done, nothing commits."""
    for attempt in (1, 2):
        try:
            with app.state.session_factory() as session:
                result = work(app.state.intake_context(session))
                stop_if_cancelled(cancelled, "before commit")
                session.commit()
                return result
        except IntegrityError as exc:
            if attempt == 2:
                raise Conflict(
                    "a concurrent request changed the same resources; try again"
                ) from exc
    raise AssertionError("unreachable")


def run_transaction(
    app: FastAPI, bundle: dict[str, Any], cancelled: threading.Event | None = None
) -> dict[str, Any]:
    base_url = app.state.runtime.base_url

    def work(ctx: IntakeContext) -> dict[str, Any]:
        outcome = submit_transaction(ctx, bundle)
        if outcome.replay_of is not None:
            return responses.replayed(outcome.replay_of)
        response = responses.transaction_response(base_url, outcome.results)
        for case in outcome.cases:
            case.submission_response = response
        return response

    return run_in_transaction(app, work, cancelled)


def run_batch(
    app: FastAPI, bundle: dict[str, Any], cancelled: threading.Event | None = None
) -> dict[str, Any]:
    """Each entry on its own: one failing entry does not stop the others. Each entry commits
    on its own too, so a client that leaves stops the batch before the next entry."""
    raw_entries = bundle.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise InvalidRequest("the batch has no entries", expression="Bundle.entry")
    entries = []
    for index, entry in enumerate(raw_entries):
        progress = f"{index} of {len(raw_entries)} batch entries done"
        stop_if_cancelled(cancelled, progress)
        single = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        try:
            parse_resource(single, expected_type="Bundle")
            entries.append(run_transaction(app, single, cancelled)["entry"][0])
        except WorkAbandoned:  # this entry rolled back: report the batch's progress
            raise WorkAbandoned(progress) from None
        except FhirError as exc:
            entries.append(responses.error_entry(exc))
    return responses.bundle("batch-response", entries)
