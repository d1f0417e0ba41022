"""The follow-up service's commands and events, bound to what they need: each runs in one unit
of work from the service runtime (cosmicpython's bootstrap), never with the web app.

Commands: ``record_response``, ``record_observation``, ``mark_overdue``. Events: every event of
the four topics is kept for the journey (journal.py); some also act (``ACTIONS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from painflow_followup import journal, recording
from painflow_followup.consumers import ACTIONS, TOPICS
from painflow_followup.context import FollowupContext
from painflow_followup.outcome_input import observation_input, response_input
from painflow_followup.overdue import mark_overdue_tasks
from painflow_followup.policies import FollowupPolicies
from painflow_followup.settings import FollowupSettings
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import TOPIC_OF_EVENTS
from painflow_shared.fhir.dates import utcnow
from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
Resource = dict[str, Any]


@dataclass(frozen=True)
class FollowupHandlers:
    units: UnitOfWorkFactory
    policies: FollowupPolicies
    settings: FollowupSettings
    clock: Callable[[], datetime] = utcnow

    def context(self, uow: UnitOfWork) -> FollowupContext:
        return FollowupContext(uow, self.policies, self.settings, self.clock)

    def run(self, work: Callable[[FollowupContext], T]) -> T:
        """``work`` in one unit of work: its writes and events commit together, or nothing."""
        return self.units.run(lambda uow: work(self.context(uow)))

    def subscriptions(self) -> dict[str, dict[str, Handler]]:
        """Each topic its own subscription: every event type of it, with this context."""
        by_topic = {topic: enum for enum, topic in TOPIC_OF_EVENTS.items()}
        return {topic: {str(t): self.handle for t in by_topic[topic]} for topic in TOPICS}

    def preload(self, uow: UnitOfWork, events: Sequence[Envelope]) -> None:
        journal.preload(self.context(uow), events)

    def handle(self, uow: UnitOfWork, event: Envelope) -> None:
        ctx = self.context(uow)
        journal.record_event(ctx, event)
        action = ACTIONS.get(event.type)
        if action is not None:
            action(ctx, event)

    # ------------------------------------------------------------------ commands

    def record_response(self, body: Resource) -> Resource:
        """A QuestionnaireResponse to the outcome Questionnaire: stored, measured, decided."""

        def work(ctx: FollowupContext) -> Resource:
            response, given = response_input(ctx, body)
            stored = ctx.store.create(response)
            recording.record_outcome(ctx, _with_response(given, stored))
            return stored

        return self.run(work)

    def record_observation(self, body: Resource) -> Resource:
        """A percent relief or NRS Observation posted directly; the stored Observation."""
        return self.run(lambda ctx: recording.record_outcome(ctx, observation_input(ctx, body))[0])

    def mark_overdue(self, now: datetime | None = None) -> int:
        """One pass of the overdue job (the thread calls this; so may tests)."""
        return mark_overdue_tasks(self.run, now or self.clock())


def _with_response(given: recording.OutcomeInput, stored: Resource) -> recording.OutcomeInput:
    return replace(given, response=stored)
