"""The event-type enums in painflow_shared.events.types are exactly what contracts/ declares."""

from __future__ import annotations

from enum import StrEnum

import pytest

from painflow_shared.contracts import EventContracts, default_contracts_dir
from painflow_shared.events.types import (
    ALL_EVENT_TYPES,
    TOPIC_OF_EVENTS,
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
    topic_of,
)


@pytest.fixture(scope="module")
def contracts() -> EventContracts:
    return EventContracts(default_contracts_dir())


def test_the_enums_declare_exactly_the_contracts_event_types(contracts: EventContracts) -> None:
    declared = [member.value for enum in TOPIC_OF_EVENTS for member in enum]

    assert len(declared) == len(set(declared))  # no type in two enums
    assert set(declared) == contracts.event_types()
    assert contracts.event_types() == ALL_EVENT_TYPES


@pytest.mark.parametrize("enum", list(TOPIC_OF_EVENTS), ids=lambda e: e.__name__)
def test_each_enum_is_one_topic_and_that_topic_is_the_contracts(
    contracts: EventContracts, enum: type[StrEnum]
) -> None:
    for member in enum:
        assert contracts.topic_for(member) == TOPIC_OF_EVENTS[enum]
        assert topic_of(member) == TOPIC_OF_EVENTS[enum]


def test_topic_of_takes_plain_strings_and_refuses_unknown_types() -> None:
    assert topic_of("painflow.followup.next-step") == "painflow.followup.v1"
    assert topic_of(SchedulingEvent.APPOINTMENT_RESCHEDULED) == "painflow.scheduling.v1"

    with pytest.raises(ValueError, match=r"unknown event type 'painflow\.followup\.misplaced'"):
        topic_of("painflow.followup.misplaced")


def test_a_member_is_its_ce_type_string() -> None:
    assert ReferralEvent.ACCEPTED == "painflow.referral.accepted"
    assert f"{AssessmentEvent.SAFETY_FLAG}" == "painflow.assessment.safety-flag"
    assert FollowupEvent("painflow.followup.followup-overdue") is FollowupEvent.FOLLOWUP_OVERDUE
