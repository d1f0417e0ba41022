"""The other booking rules: modality, slots, allergies, repeat limits, prior authorization."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from painflow_scheduling.domain.booking import (
    BookingRequest,
    booking_refusals,
    scheduling_blockers,
)
from painflow_scheduling.domain.constraints import (
    AllergyOverride,
    PriorProcedure,
    allergy_conflicts,
    appointment_span,
    authorization_requirements,
    check_allergies,
    check_authorization,
    check_modality,
    check_repeat_limits,
    check_slots,
    covered_conflicts,
    granted_coverages,
    procedure_agents,
    repeat_limit_statuses,
)
from painflow_scheduling.domain.holds import compute_holds
from painflow_scheduling.domain.order import OrderFacts, read_order, read_slot
from painflow_scheduling.domain.policy import AuthorizationRule, Payer, PayerPolicy
from painflow_scheduling.domain.refusals import RefusalKind, Rule, refusal_error
from painflow_shared.codes import BleedingRisk
from painflow_shared.fhir.errors import BusinessRuleViolation, Conflict

from .conftest import RXNORM, statement

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts" / "examples"
UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 10, 12, 8, 30, tzinfo=UTC)


def completed_event() -> dict[str, Any]:
    message = json.loads((CONTRACTS / "painflow.assessment.completed.json").read_text())
    return {
        e["resource"]["resourceType"] + "/" + e["resource"]["id"]: e["resource"]
        for e in message["value"]["entry"]
    }


def resources(kind: str) -> list[dict[str, Any]]:
    return [r for r in completed_event().values() if r["resourceType"] == kind]


def example_order() -> OrderFacts:
    return read_order(resources("ServiceRequest")[0])


def order(cpt="64483", modality="RF", purpose="therapeutic", regions=("lumbar",), minutes=30):
    return OrderFacts(
        "ServiceRequest/o-1",
        "Patient/p-1",
        "active",
        cpt,
        BleedingRisk.INTERMEDIATE,
        modality,
        minutes,
        purpose,
        frozenset(regions),
    )


def slot(ident, start, minutes=30, *, modality="RF", status="free", schedule="Schedule/s-1"):
    end = start + timedelta(minutes=minutes)
    resource = {
        "resourceType": "Slot",
        "id": ident,
        "schedule": {"reference": schedule},
        "status": status,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "serviceType": [
            {
                "coding": [
                    {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": modality}
                ]
            }
        ],
    }
    return read_slot(resource, UTC_ZONE)


def test_the_example_order_is_read_from_its_extensions():
    facts = example_order()
    assert (facts.cpt, facts.modality, facts.duration_minutes) == ("64483", "RF", 30)
    assert facts.bleeding_risk is BleedingRisk.INTERMEDIATE and facts.purpose == "therapeutic"
    assert facts.regions == {"lumbar"} and facts.patient.startswith("Patient/")


def test_an_order_without_a_bleeding_risk_is_held_as_high():
    assert order().hold_category is BleedingRisk.INTERMEDIATE
    no_risk = OrderFacts(None, None, None, "64483", None, "RF", 30, None, frozenset())
    assert no_risk.hold_category is BleedingRisk.HIGH


def test_a_room_with_other_imaging_is_refused():
    refused = check_modality(order(), [slot("a", T0, modality="US")])
    assert [r.rule for r in refused] == [Rule.MODALITY]
    assert refused[0].expression == "Appointment.slot[0]"
    assert refused[0].reason == (
        "wrong imaging modality: Slot/a is in a room with US; the order ServiceRequest/o-1 "
        "(CPT 64483) needs RF"
    )
    assert check_modality(order(), [slot("b", T0)]) == ()
    assert check_modality(order(modality=None), [slot("c", T0, modality="US")]) == ()


def test_contiguous_free_slots_long_enough_are_accepted():
    slots = [slot("a", T0, 15), slot("b", T0 + timedelta(minutes=15), 15)]
    assert check_slots(order(minutes=30), slots) == ()
    assert appointment_span(slots) == (T0, T0 + timedelta(minutes=30))


def test_slots_shorter_than_the_procedure_are_refused():
    refused = check_slots(order(minutes=45), [slot("a", T0, 30)])
    assert refused[0].rule is Rule.DURATION and refused[0].kind is RefusalKind.BUSINESS_RULE
    assert refused[0].reason == (
        "slots too short: they give 30 min; the order ServiceRequest/o-1 needs 45 min "
        "(expected-duration)"
    )


def test_slots_with_a_gap_are_refused():
    refused = check_slots(
        order(minutes=30), [slot("a", T0, 15), slot("b", T0 + timedelta(minutes=30), 15)]
    )
    assert refused[0].reason == (
        "slots not contiguous: Slot/b starts at 2026-10-12T09:00:00+00:00, not where Slot/a "
        "ends (2026-10-12T08:45:00+00:00)"
    )


def test_slots_of_two_rooms_are_refused():
    slots = [slot("a", T0, 15), slot("b", T0 + timedelta(minutes=15), 15, schedule="Schedule/s-2")]
    assert "different Schedules" in check_slots(order(), slots)[0].reason


def test_a_taken_slot_is_a_conflict():
    refused = check_slots(order(), [slot("a", T0, status="busy")])
    assert refused[0].kind is RefusalKind.CONFLICT and refused[0].rule is Rule.SLOT_TAKEN
    assert refused[0].reason == "slot taken: Slot/a is busy, not free"
    error = refusal_error(refused)
    assert isinstance(error, Conflict) and error.status == 409
    assert error.issues[0].code == "conflict" and error.issues[0].expression == (
        "Appointment.slot[0]",
    )


def test_business_rule_refusals_become_one_422_with_every_issue():
    refused = check_modality(order(), [slot("a", T0, modality="US"), slot("b", T0, modality="CT")])
    error = refusal_error(refused)
    assert isinstance(error, BusinessRuleViolation) and error.status == 422
    assert [i.expression for i in error.issues] == [
        ("Appointment.slot[0]",),
        ("Appointment.slot[1]",),
    ]
    assert refusal_error([]) is None


# allergies -------------------------------------------------------------------------------------


def test_the_example_contrast_allergy_conflicts_with_a_fluoroscopic_esi(asra):
    agents = procedure_agents(example_order(), asra.agents)
    assert [a.agent for a in agents] == [
        "iodinated-contrast",
        "local-anaesthetic",
        "corticosteroid",
    ]
    conflicts = allergy_conflicts(agents, resources("AllergyIntolerance"))
    assert [(c.agent, c.matched_by) for c in conflicts] == [("iodinated-contrast", "text")]
    refused = check_allergies(conflicts, [], asra.agents)
    allergy = resources("AllergyIntolerance")[0]["id"]
    assert refused[0].rule is Rule.ALLERGY and refused[0].expression == "Appointment.basedOn"
    assert refused[0].reason == (
        f"allergy conflict: AllergyIntolerance/{allergy} matches the procedure's iodinated "
        "contrast (by text, agents table v1.0.0); book it only with an explicit override naming "
        "a documented premedication or alternative agent"
    )


def test_an_explicit_override_allows_the_booking(asra):
    conflicts = allergy_conflicts(
        procedure_agents(example_order(), asra.agents), resources("AllergyIntolerance")
    )
    override = AllergyOverride(
        "alternative-agent", "gadolinium-based contrast", "iodinated-contrast"
    )
    assert check_allergies(conflicts, [override], asra.agents) == ()
    assert covered_conflicts(conflicts, [override], asra.agents) == ((conflicts[0], override),)


@pytest.mark.parametrize(
    "override",
    [
        AllergyOverride("premedication", "   "),  # nothing documented
        AllergyOverride("hope", "it will be fine"),  # not a premedication or alternative agent
        AllergyOverride("premedication", "prednisone 50 mg", "local-anaesthetic"),  # other agent
    ],
)
def test_an_override_that_documents_nothing_or_another_agent_does_not_count(asra, override):
    conflicts = allergy_conflicts(
        procedure_agents(example_order(), asra.agents), resources("AllergyIntolerance")
    )
    assert len(check_allergies(conflicts, [override], asra.agents)) == 1


def test_ultrasound_guidance_uses_no_iodinated_contrast(asra):
    agents = procedure_agents(order(cpt="64450", modality="US"), asra.agents)
    assert "iodinated-contrast" not in {a.agent for a in agents}
    assert allergy_conflicts(agents, resources("AllergyIntolerance")) == ()


def test_an_allergy_coded_by_rxnorm_and_inactive_allergies(asra):
    lidocaine = {
        "resourceType": "AllergyIntolerance",
        "id": "a-2",
        "code": {"coding": [{"system": RXNORM, "code": "6387"}]},
    }
    resolved = {
        **lidocaine,
        "id": "a-3",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "resolved",
                }
            ]
        },
    }
    agents = procedure_agents(order(), asra.agents)
    conflicts = allergy_conflicts(agents, [lidocaine, resolved])
    assert [(c.allergy, c.agent, c.matched_by) for c in conflicts] == [
        ("AllergyIntolerance/a-2", "local-anaesthetic", "code")
    ]


def test_a_cpt_code_the_agents_table_lacks_gets_every_agent(asra):
    agents = procedure_agents(order(cpt="99999"), asra.agents)
    assert {a.agent for a in agents} == {
        "iodinated-contrast",
        "local-anaesthetic",
        "corticosteroid",
    }


# repeat limits --------------------------------------------------------------------------------


def prior(ident, days_before, *, cpt="64483", region="lumbar", state="performed", purpose=None):
    return PriorProcedure(
        f"Procedure/{ident}",
        cpt,
        frozenset({region}),
        T0 - timedelta(days=days_before),
        state,
        purpose,
    )


def test_a_fifth_esi_in_twelve_months_in_one_region_is_refused(asra):
    history = [
        prior("p1", 300),
        prior("p2", 200),
        prior("p3", 100, state="booked"),
        prior("p4", 30),
    ]
    refused = check_repeat_limits(order(), T0, history, asra.repeat_limits)
    assert len(refused) == 1 and refused[0].rule is Rule.REPEAT_LIMIT
    allowed = T0 - timedelta(days=300) + timedelta(days=365)  # when p1 leaves the window
    assert refused[0].safe_from == allowed
    assert refused[0].reason == (
        "repeat limit (repeat-limits table v1.0.0): at most 4 epidural steroid injections per "
        "lumbar region in a rolling 12 months (booked and performed count): this would be number "
        "5 with Procedure/p1, Procedure/p2, Procedure/p3, Procedure/p4; allowed from "
        f"{allowed.isoformat()}"
    )
    assert check_repeat_limits(order(), allowed, history, asra.repeat_limits) == ()


def test_a_future_booking_counts_in_the_rolling_window(asra):
    history = [
        prior("p1", 200),
        prior("p2", 100),
        prior("p3", 50),
        prior("b1", -60, state="booked"),
    ]
    assert len(check_repeat_limits(order(), T0, history, asra.repeat_limits)) == 1


def test_four_in_twelve_months_and_other_regions_are_allowed(asra):
    history = [
        prior("p1", 300),
        prior("p2", 200),
        prior("p3", 100),
        prior("c1", 50, region="cervical"),
    ]
    assert check_repeat_limits(order(), T0, history, asra.repeat_limits) == ()
    old = [prior("o1", 400), prior("o2", 380), prior("p2", 200), prior("p3", 100)]
    assert check_repeat_limits(order(), T0, old, asra.repeat_limits) == ()


def test_esis_less_than_14_days_apart_are_refused_and_exactly_14_allowed(asra):
    refused = check_repeat_limits(
        order(), T0, [prior("p1", 13)], asra.repeat_limits, site_zone="America/Chicago"
    )
    assert refused[0].safe_from == T0 + timedelta(days=1)
    assert (
        "at least 14 days apart in the lumbar region: Procedure/p1 (2026-09-29T03:30:00-05:00)"
        in refused[0].reason
    )
    assert "allowed from 2026-10-13T03:30:00-05:00" in refused[0].reason
    assert check_repeat_limits(order(), T0, [prior("p1", 14)], asra.repeat_limits) == ()


def test_an_intrathecal_trial_on_an_epidural_code_is_not_an_esi(asra):
    trial = order(cpt="62323", purpose="trial")
    assert repeat_limit_statuses(trial, T0, [prior("p1", 3, cpt="62323")], asra.repeat_limits) == ()


def test_a_third_rfa_in_twelve_months_is_refused(asra):
    rfa = order(cpt="64635")
    history = [prior("r1", 200, cpt="64635"), prior("r2", 20, cpt="64636", state="booked")]
    refused = check_repeat_limits(rfa, T0, history, asra.repeat_limits)
    assert "at most 2 radiofrequency ablations per lumbar region" in refused[0].reason
    assert check_repeat_limits(rfa, T0, history[1:], asra.repeat_limits) == ()


# prior authorization --------------------------------------------------------------------------


def coverage(ident="c-1", display="Blue Valley Health Plan", identifier=None, status="active"):
    payor = {"display": display, **({"identifier": identifier} if identifier else {})}
    return {"resourceType": "Coverage", "id": ident, "status": status, "payor": [payor]}


def auth_task(status="completed", number="PA-1", insurance="Coverage/c-1"):
    task = {
        "resourceType": "Task",
        "status": status,
        "code": {
            "coding": [
                {
                    "system": "https://painflow.dev/fhir/CodeSystem/task-type",
                    "code": "prior-authorization",
                }
            ]
        },
        "insurance": [{"reference": insurance}],
        "output": [{"type": {"text": "authorization-number"}, "valueString": number}],
    }
    return task


@pytest.mark.parametrize(
    ("cpt", "purpose", "needed"),
    [
        ("63650", "trial", True),
        ("63685", "therapeutic", True),
        ("64633", "therapeutic", True),
        ("64635", "therapeutic", True),
        ("62323", "trial", True),
        ("62323", "therapeutic", False),
        ("64483", "therapeutic", False),
    ],
)
def test_the_default_payer_table(asra, cpt, purpose, needed):
    found = authorization_requirements(order(cpt=cpt, purpose=purpose), [coverage()], asra.payers)
    assert bool(found) is needed


def test_booking_waits_for_a_completed_authorization(asra):
    needed = authorization_requirements(order(cpt="63650"), [coverage()], asra.payers)
    refused = check_authorization(needed, granted_coverages([]), asra.payers)
    assert refused[0].rule is Rule.AUTHORIZATION and refused[0].expression == "Appointment.basedOn"
    assert refused[0].reason == (
        "prior authorization required: the payer of Coverage/c-1 (default rules, "
        "payer-authorization table v1.0.0) requires it for CPT 63650 (spinal cord stimulator "
        "electrode array (trial or implant)); booking waits until its prior-authorization Task is "
        "completed with the authorization number"
    )
    for pending in (
        auth_task(status="in-progress"),
        auth_task(number=" "),
        auth_task(insurance="Coverage/x"),
    ):
        assert check_authorization(needed, granted_coverages([pending]), asra.payers) != ()
    assert check_authorization(needed, granted_coverages([auth_task()]), asra.payers) == ()


def test_a_payer_the_table_names_uses_its_own_rules(asra):
    self_pay = coverage(display="Self-Pay")
    assert authorization_requirements(order(cpt="63650"), [self_pay], asra.payers) == ()
    inactive = coverage(status="cancelled")
    assert authorization_requirements(order(cpt="63650"), [inactive], asra.payers) == ()
    assert authorization_requirements(order(cpt="63650"), [], asra.payers) == ()


# all rules at once ----------------------------------------------------------------------------


def test_booking_refusals_report_every_broken_rule_and_nothing_for_a_safe_booking(asra):
    booked_at = T0 - timedelta(days=3)
    holds = compute_holds(
        BleedingRisk.INTERMEDIATE, [statement("11289")], tables=asra.holds, booking_time=booked_at
    )
    request = BookingRequest(
        order=order(cpt="64635"),
        slots=[slot("a", T0)],
        holds=holds,
        allergies=resources("AllergyIntolerance"),
        prior=[prior("r1", 100, cpt="64635"), prior("r2", 50, cpt="64635")],
        coverages=[coverage()],
    )
    rules = [r.rule for r in booking_refusals(request, asra)]
    assert rules == [Rule.HOLD, Rule.ALLERGY, Rule.REPEAT_LIMIT, Rule.AUTHORIZATION]
    blockers = scheduling_blockers(request, asra, booking_time=booked_at)
    assert blockers[0] == "antithrombotic hold: not before 2026-10-14T08:30:00+00:00"
    assert blockers[1].startswith("allergy conflict with iodinated contrast")
    assert blockers[2] == "prior authorization pending"

    safe = BookingRequest(
        order=order(cpt="64635"),
        slots=[slot("a", T0 + timedelta(days=2))],
        holds=holds,
        allergies=resources("AllergyIntolerance"),
        overrides=[AllergyOverride("premedication", "prednisone protocol")],
        coverages=[coverage()],
        granted=granted_coverages([auth_task()]),
    )
    assert booking_refusals(safe, asra) == ()
    assert scheduling_blockers(safe, asra, booking_time=T0 + timedelta(days=2)) == []
    wrong_room = BookingRequest(order=order(), slots=[slot("a", T0, modality="US")], holds=holds)
    assert [r.rule for r in booking_refusals(wrong_room, asra)] == [Rule.MODALITY]


def test_a_payer_is_matched_by_its_identifier_first():
    policy = PayerPolicy(
        "1",
        default=(AuthorizationRule("64483", "esi"),),
        payers=(Payer("acme", "Acme", (("urn:payer", "123"),), ("acme",), ()),),
    )
    by_id = coverage(display="Some other name", identifier={"system": "urn:payer", "value": "123"})
    assert authorization_requirements(order(), [by_id], policy) == ()
    assert len(authorization_requirements(order(), [coverage(display="Unknown")], policy)) == 1
