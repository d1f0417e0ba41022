"""The assessment's commands and events, bound to what they need: each runs in one unit of
work from the service runtime (its writes and events commit together), never with the web app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from painflow_assessment import ordering, responses, reviews
from painflow_assessment.consumers import EVENT_HANDLERS
from painflow_assessment.context import AssessmentContext
from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import topic_of
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


@dataclass(frozen=True)
class AssessmentHandlers:
    units: UnitOfWorkFactory
    policies: AssessmentPolicies
    local_bases: tuple[str, ...]
    now: Callable[[], str] = fhir_instant

    def context(self, uow: UnitOfWork) -> AssessmentContext:
        return AssessmentContext(uow, self.policies, self.local_bases, self.now)

    def run(self, work: Callable[[AssessmentContext], T]) -> T:
        return self.units.run(lambda uow: work(self.context(uow)))

    def subscriptions(self) -> dict[str, dict[str, Handler]]:
        """topic -> event type -> handler, each with this service's context."""

        def bind(handle: Callable[[AssessmentContext, Envelope], None]) -> Handler:
            return lambda uow, event: handle(self.context(uow), event)

        found: dict[str, dict[str, Handler]] = {}
        for event_type, handle in EVENT_HANDLERS.items():
            found.setdefault(topic_of(event_type), {})[event_type] = bind(handle)
        return found

    # ------------------------------------------------------------------ commands

    def submit_response(
        self, body: dict[str, Any], if_none_exist: str | None
    ) -> tuple[dict[str, Any], int]:
        return self.run(lambda ctx: responses.submit_response(ctx, body, if_none_exist))

    def order(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.run(lambda ctx: ordering.direct_order(ctx, body))

    def update_order(
        self, body: dict[str, Any], if_match: int | None, provenance: dict[str, Any] | None
    ) -> dict[str, Any]:
        return self.run(lambda ctx: ordering.update_order(ctx, body, if_match, provenance))

    def update_task(self, body: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        return self.run(lambda ctx: reviews.update_review(ctx, body, if_match))

    def patch_task(
        self, task_id: str, operations: list[dict[str, Any]], if_match: int | None
    ) -> dict[str, Any]:
        return self.run(lambda ctx: reviews.patch_review(ctx, task_id, operations, if_match))

    def seed_questionnaires(self) -> int:
        """Store each Questionnaire of the data files (idempotent: only what changed)."""

        def work(ctx: AssessmentContext) -> int:
            changed = 0
            for questionnaire in self.policies.questionnaires.values():
                current = ctx.store.find("Questionnaire", questionnaire["id"])
                content = {k: v for k, v in (current or {}).items() if k != "meta"}
                if content != questionnaire:
                    ctx.store.update(dict(questionnaire))
                    changed += 1
            return changed

        return self.run(work)
