"""What each event does here. Every event of the four topics takes its place in the journey
(journal.py); these also act."""

from __future__ import annotations

from collections.abc import Callable

from painflow_followup import cancellations, procedures
from painflow_followup.context import FollowupContext
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import (
    ASSESSMENT_TOPIC,
    FOLLOWUP_TOPIC,
    REFERRAL_TOPIC,
    SCHEDULING_TOPIC,
    AssessmentEvent,
    ReferralEvent,
    SchedulingEvent,
)

Action = Callable[[FollowupContext, Envelope], None]

ACTIONS: dict[str, Action] = {
    SchedulingEvent.PROCEDURE_PERFORMED: procedures.on_procedure_performed,
    SchedulingEvent.PROCEDURE_COMPLICATION: procedures.on_procedure_complication,
    ReferralEvent.CANCELLED: cancellations.on_referral_cancelled,
    AssessmentEvent.ORDER_REVOKED: cancellations.on_order_revoked,
}

# each topic its own subscription (its own consumer), every event type of it journaled
TOPICS = (REFERRAL_TOPIC, ASSESSMENT_TOPIC, SCHEDULING_TOPIC, FOLLOWUP_TOPIC)
