"""What each of the other services' events means for the referral's triage Task, read from the
contract examples themselves (pure: no database, no broker)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from painflow_referral.domain.milestones import (
    COMPLETED,
    IN_PROGRESS,
    milestone_for,
    named_service_requests,
    referral_links,
)
from painflow_shared.codes import CodeSystem, NextStep, ReferralMilestone, concept
from painflow_shared.contracts import default_contracts_dir

EXAMPLES = default_contracts_dir() / "examples"


def _entries(name: str) -> list[dict[str, Any]]:
    example = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
    return list(example["value"]["entry"])


def _with(outputs: tuple[dict[str, Any], ...], value: str) -> list[dict[str, Any]]:
    return [o for o in outputs if value in o]


@pytest.mark.parametrize(
    ("event_type", "code"),
    [
        ("painflow.assessment.started", ReferralMilestone.INTAKE_STARTED),
        ("painflow.assessment.completed", ReferralMilestone.PATHWAY_DECISION),
        ("painflow.assessment.not-candidate", ReferralMilestone.PATHWAY_DECISION),
        ("painflow.assessment.safety-flag", ReferralMilestone.SAFETY_REVIEW),
        ("painflow.assessment.procedure-ordered", ReferralMilestone.PROCEDURE_ORDERED),
        ("painflow.scheduling.appointment-booked", ReferralMilestone.PROCEDURE_BOOKED),
        ("painflow.scheduling.appointment-noshow", ReferralMilestone.APPOINTMENT_NOSHOW),
        ("painflow.scheduling.procedure-performed", ReferralMilestone.PROCEDURE_PERFORMED),
        ("painflow.followup.followup-scheduled", ReferralMilestone.FOLLOWUP_SCHEDULED),
        ("painflow.followup.next-step", ReferralMilestone.NEXT_STEP),
    ],
)
def test_each_step_is_a_milestone_that_keeps_the_referral_in_progress(event_type, code):
    milestone = milestone_for(event_type, _entries(event_type))

    assert milestone is not None and milestone.code == code
    assert milestone.target_status == IN_PROGRESS
    assert milestone.business_status()["coding"][0]["system"] == CodeSystem.REFERRAL_MILESTONE
    references = [
        o["valueReference"]["reference"] for o in milestone.outputs if "valueReference" in o
    ]
    assert references and all(ref.startswith("http://127.0.0.1:800") for ref in references)


def test_a_not_candidate_decision_reaches_the_ehr_with_its_code_and_reason():
    milestone = milestone_for(
        "painflow.assessment.not-candidate", _entries("painflow.assessment.not-candidate")
    )
    assert milestone is not None
    decision = next(
        o["valueCodeableConcept"] for o in milestone.outputs if "valueCodeableConcept" in o
    )
    assert decision["coding"][0]["system"] == CodeSystem.PATHWAY_DECISION
    assert decision["coding"][0]["code"] in milestone.text
    assert decision["text"] and decision["text"] in milestone.text


def test_a_discharge_completes_the_referral():
    entries = _entries("painflow.followup.next-step")
    for entry in entries:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"]["code"] = concept(NextStep.DISCHARGE)
    milestone = milestone_for("painflow.followup.next-step", entries)

    assert milestone is not None and milestone.code == ReferralMilestone.DISCHARGED
    assert milestone.target_status == COMPLETED


def test_events_that_mean_nothing_to_the_referral_are_ignored():
    assert (
        milestone_for("painflow.referral.accepted", _entries("painflow.referral.accepted")) is None
    )


def test_the_chain_of_orders_leads_back_to_the_referral():
    completed = _entries("painflow.assessment.completed")
    [(order, referral)] = referral_links(completed)
    booked = _entries("painflow.scheduling.appointment-booked")

    assert order in named_service_requests(booked)
    assert referral in named_service_requests(completed)
    assert order in named_service_requests(_entries("painflow.followup.next-step"))
