"""SMART scope parsing and the route table of interactions (pure)."""

from __future__ import annotations

import pytest

from painflow_shared.auth.compartment import patients_of
from painflow_shared.auth.guard import Principal, check_bundle, infer_needs, principal_from
from painflow_shared.auth.scopes import Interaction, parse_scope, parse_scopes, permission
from painflow_shared.fhir.errors import Forbidden

C, R, U, D, S = (Interaction(x) for x in "cruds")


@pytest.mark.parametrize(
    ("scope", "resource_type", "allowed", "denied"),
    [
        ("system/ServiceRequest.c", "ServiceRequest", {C}, {R, U, D, S}),
        ("system/Patient.rs", "Patient", {R, S}, {C, U, D}),
        ("system/*.cruds", "Task", {C, R, U, D, S}, set()),
        ("user/Appointment.cu", "Appointment", {C, U}, {R, D, S}),
        ("system/*.read", "Condition", {R, S}, {C, U, D}),
        ("system/*.write", "Condition", {C, U, D}, {R, S}),
        ("patient/*.*", "Observation", {C, R, U, D, S}, set()),
    ],
)
def test_scope_grants_exactly_its_letters(scope, resource_type, allowed, denied):
    grants = parse_scopes(scope)
    for interaction in allowed:
        assert permission(grants, resource_type, interaction).allowed, interaction
    for interaction in denied:
        assert not permission(grants, resource_type, interaction).allowed, interaction


@pytest.mark.parametrize(
    "scope",
    [
        "openid",
        "launch/patient",
        "system/Patient.sr",  # v2 letters must be in cruds order
        "system/Patient.rr",
        "system/Patient.x",
        "system/patient.r",  # a type starts upper case
        "patient/Observation.rs?category=laboratory",  # granular: not evaluated, so not granted
        "admin/Patient.r",
        "system/Patient.",
    ],
)
def test_scopes_that_grant_nothing(scope):
    assert parse_scope(scope) is None


def test_other_types_are_not_granted():
    grants = parse_scopes("system/Patient.rs system/Task.rs")
    assert not permission(grants, "Condition", R).allowed


def test_a_patient_scope_limits_only_when_nothing_broader_grants():
    grants = parse_scopes("patient/*.rs user/Task.rs")
    assert permission(grants, "Condition", R).patient_only
    assert not permission(grants, "Task", R).patient_only


def test_the_scope_claim_may_be_a_list():
    assert len(parse_scopes(["system/Patient.rs", "system/Task.rs openid"])) == 2


@pytest.mark.parametrize(
    ("method", "path", "params", "needs"),
    [
        ("GET", "/fhir/{resource_type}", {"resource_type": "Patient"}, [("Patient", S)]),
        ("GET", "/fhir/{resource_type}/{resource_id}", {"resource_type": "Task"}, [("Task", R)]),
        (
            "GET",
            "/fhir/{resource_type}/{resource_id}/_history/{version_id}",
            {"resource_type": "Task"},
            [("Task", R)],
        ),
        ("POST", "/fhir/{resource_type}", {"resource_type": "Condition"}, [("Condition", C)]),
        (
            "PUT",
            "/fhir/{resource_type}/{resource_id}",
            {"resource_type": "Patient"},
            [("Patient", U)],
        ),
        ("PATCH", "/fhir/Task/{task_id}", {}, [("Task", U)]),
        ("DELETE", "/fhir/{resource_type}/{resource_id}", {"resource_type": "Slot"}, [("Slot", D)]),
        ("POST", "/fhir/QuestionnaireResponse", {}, [("QuestionnaireResponse", C)]),
        ("GET", "/fhir/Questionnaire", {}, []),  # definitional: any trusted token
        ("POST", "/fhir", {}, []),  # a Bundle: checked entry by entry
    ],
)
def test_interactions_read_from_the_route(method, path, params, needs):
    assert list(infer_needs(method, path, params) or []) == needs


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/fhir/Slot/{slot_id}/$book"), ("GET", "/worklist"), ("GET", "/fhir")],
)
def test_routes_that_must_declare_what_they_need(method, path):
    assert infer_needs(method, path, {}) is None


def _principal(scope: str, patient: str | None = None) -> Principal:
    claims = {"scope": scope, "azp": "ehr", "sub": "s-1"}
    if patient:
        claims["patient"] = patient
    return principal_from(claims)


def _bundle(*entries: tuple[str, str]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": t}, "request": {"method": m, "url": t}}
            for t, m in entries
        ],
    }


def test_a_transaction_needs_the_scope_of_every_entry():
    principal = _principal("system/Patient.c system/ServiceRequest.c")
    check_bundle(principal, _bundle(("Patient", "POST"), ("ServiceRequest", "POST")))
    with pytest.raises(Forbidden) as refused:
        check_bundle(principal, _bundle(("Patient", "POST"), ("Condition", "POST")))
    assert refused.value.issues[0].expression == ("Bundle.entry[1]",)
    with pytest.raises(Forbidden):
        check_bundle(principal, _bundle(("Patient", "PUT")))


def test_a_patient_token_sees_only_its_compartment():
    principal = _principal("patient/*.rs", patient="Patient/7")
    assert principal.patient == "7"
    mine = {"resourceType": "Condition", "subject": {"reference": "Patient/7"}}
    theirs = {"resourceType": "Condition", "subject": {"reference": "Patient/8"}}
    nobody = {"resourceType": "Condition"}
    assert principal.may_see(mine)
    assert not principal.may_see(theirs)
    assert not principal.may_see(nobody)
    assert principal.may_see({"resourceType": "Patient", "id": "7"})
    assert not principal.may_see({"resourceType": "Patient", "id": "8"})


def test_a_type_without_read_scope_is_not_seen():
    principal = _principal("system/Patient.rs")
    assert not principal.may_see(
        {"resourceType": "Condition", "subject": {"reference": "Patient/1"}}
    )
    assert principal.may_see({"resourceType": "Questionnaire", "id": "q"})


def test_compartment_references():
    appointment = {
        "resourceType": "Appointment",
        "participant": [
            {"actor": {"reference": "Practitioner/1"}},
            {"actor": {"reference": "https://ehr.example/fhir/Patient/42/_history/3"}},
        ],
    }
    assert patients_of(appointment) == {"42"}
    task = {"resourceType": "Task", "for": {"reference": "Patient/5"}}
    assert patients_of(task) == {"5"}
