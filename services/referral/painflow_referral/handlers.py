"""The referral service's commands and events, bound to what they need (cosmicpython's
bootstrap): each runs in one unit of work from the service runtime, never with the web app.

Commands: ``submit_transaction``, ``submit_batch``, ``update_task``, ``patch_task`` (single
writes are in single.py). Events: ``EVENT_HANDLERS`` (the other services' events close the
loop to the EHR, consumers.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from painflow_referral import cases, responses
from painflow_referral.consumers import record_milestone
from painflow_referral.context import IntakeContext, _today
from painflow_referral.domain.milestones import TRACKED
from painflow_referral.domain.policy import TriagePolicy
from painflow_referral.intake import submit_transaction
from painflow_referral.remote import RemoteFhir
from painflow_shared.disconnect import WorkAbandoned, stop_if_cancelled
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import topic_of
from painflow_shared.fhir.errors import FhirError, InvalidRequest
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.patch import apply_json_patch
from painflow_shared.fhir.remote_policy import RemotePolicy
from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
Cancelled = threading.Event | None

# the other services' events that the EHR hears on its triage Task (the rest are not ours)
EVENT_HANDLERS: dict[str, Callable[[IntakeContext, Envelope], None]] = dict.fromkeys(
    sorted(TRACKED), record_milestone
)


@dataclass(frozen=True)
class ReferralHandlers:
    units: UnitOfWorkFactory
    policy: TriagePolicy
    remote_policy: RemotePolicy
    remote: RemoteFhir  # fetches absolute subjects from trusted FHIR bases
    today: Callable[[], date] = _today

    def context(self, uow: UnitOfWork) -> IntakeContext:
        return IntakeContext(uow, self.policy, self.today, self.remote_policy)

    def run(self, work: Callable[[IntakeContext], T], cancelled: Cancelled = None) -> T:
        """``work`` in one unit of work: its writes and events commit together, or nothing."""
        return self.units.run(lambda uow: work(self.context(uow)), cancelled)

    def event_handlers(self) -> dict[str, Handler]:
        """The consumer's table: each event handler with this service's context."""

        def bind(handle: Callable[[IntakeContext, Envelope], None]) -> Handler:
            return lambda uow, event: handle(self.context(uow), event)

        return {event_type: bind(handle) for event_type, handle in EVENT_HANDLERS.items()}

    def subscriptions(self) -> dict[str, dict[str, Handler]]:
        """The event handlers by the topic their events come on."""
        by_topic: dict[str, dict[str, Handler]] = {}
        for event_type, handler in self.event_handlers().items():
            by_topic.setdefault(topic_of(event_type), {})[event_type] = handler
        return by_topic

    # ------------------------------------------------------------------ commands

    def submit_transaction(self, bundle: dict[str, Any], cancelled: Cancelled = None) -> Any:
        base_url = self.units.source.base_url

        def work(ctx: IntakeContext) -> dict[str, Any]:
            outcome = submit_transaction(ctx, bundle)
            if outcome.replay_of is not None:
                return responses.replayed(outcome.replay_of)
            response = responses.transaction_response(base_url, outcome.results)
            for case in outcome.cases:
                case.submission_response = response
            return response

        return self.run(work, cancelled)

    def submit_batch(self, bundle: dict[str, Any], cancelled: Cancelled = None) -> Any:
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
                entries.append(self.submit_transaction(single, cancelled)["entry"][0])
            except WorkAbandoned:  # this entry rolled back: report the batch's progress
                raise WorkAbandoned(progress) from None
            except FhirError as exc:
                entries.append(responses.error_entry(exc))
        return responses.bundle("batch-response", entries)

    def update_task(self, task: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        """A coordinator's PUT of the triage Task."""
        return self.run(lambda ctx: cases.coordinator_update(ctx, task, if_match))

    def patch_task(
        self, task_id: str, operations: list[dict[str, Any]], if_match: int | None
    ) -> dict[str, Any]:
        """A coordinator's JSON Patch of the triage Task: only workflow fields change."""

        def work(ctx: IntakeContext) -> dict[str, Any]:
            current = ctx.store.read("Task", task_id)
            patched = apply_json_patch(current, operations, allowed=cases.COORDINATOR_FIELDS)
            parse_resource(patched, expected_type="Task")
            return cases.coordinator_update(ctx, patched, if_match)

        return self.run(work)
