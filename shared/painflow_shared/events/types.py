"""Every event type Painflow publishes, one StrEnum per topic, and the topic each one goes to.

A value is the full ``ce_type`` (``painflow.<service>.<name>``), so a member can be passed
wherever a type string is expected. contracts/asyncapi.yaml declares the same set on the same
topics; tests/contract checks that the two agree exactly. Topics are logical names: a service
maps them to its configured (possibly prefixed) name with ``SharedSettings.topic``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

# One topic per publishing service; events/topics.py creates them (with a .dlq beside each).
REFERRAL_TOPIC = "painflow.referral.v1"
ASSESSMENT_TOPIC = "painflow.assessment.v1"
SCHEDULING_TOPIC = "painflow.scheduling.v1"
FOLLOWUP_TOPIC = "painflow.followup.v1"
ALL_TOPICS = (REFERRAL_TOPIC, ASSESSMENT_TOPIC, SCHEDULING_TOPIC, FOLLOWUP_TOPIC)


class ReferralEvent(StrEnum):
    """Events of ``painflow.referral.v1``: a referral's triage, from receipt to its decision."""

    RECEIVED = "painflow.referral.received"
    ACCEPTED = "painflow.referral.accepted"
    REDIRECTED = "painflow.referral.redirected"  # a red flag: sent to urgent care
    REJECTED = "painflow.referral.rejected"
    CANCELLED = "painflow.referral.cancelled"


class AssessmentEvent(StrEnum):
    """Events of ``painflow.assessment.v1``: the intake, its pathway decision and the orders."""

    STARTED = "painflow.assessment.started"
    COMPLETED = "painflow.assessment.completed"  # decision `procedure`, with the orders
    NOT_CANDIDATE = "painflow.assessment.not-candidate"  # every other decision
    PROCEDURE_ORDERED = "painflow.assessment.procedure-ordered"  # direct or follow-on orders
    ORDER_REVOKED = "painflow.assessment.order-revoked"
    SAFETY_FLAG = "painflow.assessment.safety-flag"  # PHQ-9 item 9 above 0


class SchedulingEvent(StrEnum):
    """Events of ``painflow.scheduling.v1``: every booking change and what was performed."""

    APPOINTMENT_BOOKED = "painflow.scheduling.appointment-booked"
    APPOINTMENT_CANCELLED = "painflow.scheduling.appointment-cancelled"
    APPOINTMENT_RESCHEDULED = "painflow.scheduling.appointment-rescheduled"
    APPOINTMENT_NOSHOW = "painflow.scheduling.appointment-noshow"
    PROCEDURE_PERFORMED = "painflow.scheduling.procedure-performed"
    PROCEDURE_COMPLICATION = "painflow.scheduling.procedure-complication"  # one per complication


class FollowupEvent(StrEnum):
    """Events of ``painflow.followup.v1``: follow-up plans, outcomes and the next step."""

    FOLLOWUP_SCHEDULED = "painflow.followup.followup-scheduled"
    OUTCOME_RECORDED = "painflow.followup.outcome-recorded"
    FOLLOWUP_OVERDUE = "painflow.followup.followup-overdue"
    NEXT_STEP = "painflow.followup.next-step"


EventType = ReferralEvent | AssessmentEvent | SchedulingEvent | FollowupEvent

TOPIC_OF_EVENTS: Mapping[type[StrEnum], str] = MappingProxyType(
    {
        ReferralEvent: REFERRAL_TOPIC,
        AssessmentEvent: ASSESSMENT_TOPIC,
        SchedulingEvent: SCHEDULING_TOPIC,
        FollowupEvent: FOLLOWUP_TOPIC,
    }
)

_TOPIC_BY_TYPE: Mapping[str, str] = MappingProxyType(
    {member.value: topic for enum, topic in TOPIC_OF_EVENTS.items() for member in enum}
)
ALL_EVENT_TYPES: frozenset[str] = frozenset(_TOPIC_BY_TYPE)


def topic_of(event_type: str) -> str:
    """The logical topic an event type is published on; ValueError for an unknown type."""
    try:
        return _TOPIC_BY_TYPE[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
