"""References that point nowhere, or at a type their element does not allow, are refused (422)
with the element named, over real HTTP; the valid kinds of reference are still taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from painflow_shared.testing.factories import referral_bundle, transaction, urn

from .api import api
from .conftest import FHIR_JSON, post_referral, stored_counts

pytestmark = pytest.mark.integration
PATCH = {"content-type": "application/json-patch+json"}
REQUEST = 2  # referral_bundle(): Patient, Condition, ServiceRequest
Bundle = dict[str, Any]


def with_request(change: Callable[[dict[str, Any]], None]) -> Bundle:
    bundle = referral_bundle()
    change(bundle["entry"][REQUEST]["resource"])
    return bundle


def setter(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda resource: resource.update(values)


def organization(name: str, part_of: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Organization", "name": name}
    if part_of:
        resource["partOf"] = {"reference": part_of}
    return resource


def a_cycle() -> Bundle:
    a, b = urn(), urn()
    return transaction([(a, organization("A", b)), (b, organization("B", a))])


def a_self_reference() -> Bundle:
    a = urn()
    return transaction([(a, organization("A", a))])


def assert_refused(
    platform: Any, response: httpx.Response, before: tuple[int, int], expression: str, rule: str
) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    issues = response.json()["issue"]
    assert any(
        expression in i.get("expression", []) and rule in i["diagnostics"] for i in issues
    ), issues
    assert stored_counts(platform) == before, "nothing is stored for a refused request"
    return issues[0]


@pytest.mark.parametrize(
    ("bundle", "expression", "rule"),
    [
        (
            lambda: with_request(setter(requester={"reference": "Practitioner/nope"})),
            f"Bundle.entry[{REQUEST}].resource.requester",
            "does not resolve",
        ),
        (
            lambda: with_request(setter(reasonReference=[{"reference": "Patient/zzz"}])),
            f"Bundle.entry[{REQUEST}].resource.reasonReference[0]",
            "must reference one of: Condition, Observation, DiagnosticReport, DocumentReference",
        ),
        (
            lambda: with_request(setter(subject={"reference": "Organization/x"})),
            f"Bundle.entry[{REQUEST}].resource.subject",
            "must reference one of: Patient",
        ),
        (
            lambda: with_request(setter(reasonReference=[{"reference": "#missing"}])),
            f"Bundle.entry[{REQUEST}].resource.reasonReference[0]",
            "no contained resource has that id",
        ),
        (
            lambda: with_request(setter(requester={"reference": "Practitioner?identifier=a|b"})),
            f"Bundle.entry[{REQUEST}].resource.requester",
            "is not a reference this server can resolve",
        ),
        (
            lambda: with_request(
                setter(requester={"reference": "https://ehr.example.org/fhir/Practitioner/1"})
            ),
            f"Bundle.entry[{REQUEST}].resource.requester",
            "not a trusted FHIR base",
        ),
        (a_cycle, "Bundle.entry[1].resource.partOf", "Organization.partOf makes a cycle"),
        (
            a_self_reference,
            "Bundle.entry[0].resource.partOf",
            "must not reference the resource itself",
        ),
    ],
    ids=[
        "nowhere",
        "wrong-type",
        "subject-type",
        "contained",
        "conditional",
        "untrusted",
        "cycle",
        "self",
    ],
)
def test_a_transaction_with_a_bad_reference_is_refused_whole(platform, bundle, expression, rule):
    before = stored_counts(platform)
    response = api.post(platform.fhir("referral"), json=bundle(), headers=FHIR_JSON, timeout=30)
    issue = assert_refused(platform, response, before, expression, rule)
    for sent in ("nope", "zzz", "Organization/x", "Patient/x", "missing", "ehr.example.org"):
        assert sent not in issue["diagnostics"]


def test_the_subject_of_the_wrong_type_is_named_as_such(platform):
    bundle = with_request(setter(subject={"reference": "Organization/x"}))
    response = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=30)
    assert response.status_code == 422
    assert "Patient/x" not in response.text  # it used to be answered about a Patient


def single_referral(patient_id: str, **changes: Any) -> dict[str, Any]:
    request = referral_bundle()["entry"][REQUEST]["resource"]
    request.update(
        subject={"reference": f"Patient/{patient_id}"}, reasonCode=[{"text": "neck pain"}]
    )
    request.pop("reasonReference")
    return {**request, **changes}


@pytest.mark.parametrize(
    ("changes", "expression", "rule"),
    [
        (
            {"requester": {"reference": "Practitioner/nope"}},
            "ServiceRequest.requester",
            "does not resolve",
        ),
        ({"subject": {"reference": "Organization/x"}}, "ServiceRequest.subject", "one of: Patient"),
        (
            {"reasonReference": [{"reference": "Patient/zzz"}]},
            "ServiceRequest.reasonReference[0]",
            "must reference one of: Condition",
        ),
    ],
)
def test_a_single_referral_with_a_bad_reference_names_its_element(
    platform, changes, expression, rule
):
    patient_id, _ = post_referral(platform)
    before = stored_counts(platform)
    response = api.post(
        f"{platform.fhir('referral')}/ServiceRequest",
        json=single_referral(patient_id, **changes),
        headers=FHIR_JSON,
        timeout=30,
    )
    assert_refused(platform, response, before, expression, rule)


def test_an_update_that_references_itself_is_refused(platform):
    before = stored_counts(platform)
    body = {**organization("Self", "Organization/selfie"), "id": "selfie"}
    response = api.put(
        f"{platform.fhir('referral')}/Organization/selfie", json=body, headers=FHIR_JSON
    )
    assert_refused(
        platform, response, before, "Organization.partOf", "must not reference the resource itself"
    )


def task_of(platform: Any, request_id: str) -> dict[str, Any]:
    found = api.get(
        f"{platform.fhir('referral')}/Task", params={"focus": f"ServiceRequest/{request_id}"}
    )
    task: dict[str, Any] = found.json()["entry"][0]["resource"]
    return task


def test_a_task_owner_that_does_not_exist_is_refused_through_patch_and_put(platform):
    _, request_id = post_referral(platform)
    task = task_of(platform, request_id)
    before = stored_counts(platform)
    owner = {"reference": "Organization/doesnotexist"}
    url = f"{platform.fhir('referral')}/Task/{task['id']}"
    patched = api.patch(url, json=[{"op": "add", "path": "/owner", "value": owner}], headers=PATCH)
    assert_refused(platform, patched, before, "Task.owner", "does not resolve")
    put = api.put(url, json={**task, "owner": owner}, headers=FHIR_JSON)
    assert_refused(platform, put, before, "Task.owner", "does not resolve")
    assert task_of(platform, request_id)["meta"]["versionId"] == task["meta"]["versionId"]


def create(platform: Any, resource: dict[str, Any]) -> str:
    response = api.post(
        f"{platform.fhir('referral')}/{resource['resourceType']}", json=resource, headers=FHIR_JSON
    )
    assert response.status_code == 201, response.text
    return f"{resource['resourceType']}/{response.json()['id']}"


def test_a_task_owner_that_exists_is_taken(platform):
    clinic = create(platform, organization("Pain clinic"))
    _, request_id = post_referral(platform)
    task = task_of(platform, request_id)
    response = api.patch(
        f"{platform.fhir('referral')}/Task/{task['id']}",
        json=[{"op": "add", "path": "/owner", "value": {"reference": clinic}}],
        headers=PATCH,
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner"] == {"reference": clinic}


def a_part_of_chain() -> Bundle:
    trust = urn()
    return transaction([(trust, organization("Trust")), (urn(), organization("Ward", trust))])


def contained_reason(resource: dict[str, Any]) -> None:
    subject = resource["subject"]
    condition = {
        "resourceType": "Condition",
        "id": "why",
        "subject": subject,
        "code": {"text": "neck pain"},
    }
    resource.update(contained=[condition], reasonReference=[{"reference": "#why"}])


@pytest.mark.parametrize(
    "bundle",
    [
        lambda: referral_bundle(),  # urn:uuid references that resolve inside the transaction
        lambda: with_request(
            setter(requester={"identifier": {"system": "urn:oid:1.2.3", "value": "dr-7"}})
        ),
        lambda: with_request(contained_reason),
        a_part_of_chain,
    ],
    ids=["urn-uuid", "identifier-only", "contained", "part-of-chain"],
)
def test_valid_references_are_taken(platform, bundle):
    response = api.post(platform.fhir("referral"), json=bundle(), headers=FHIR_JSON, timeout=30)
    assert response.status_code == 200, response.text


def test_a_requester_stored_here_is_taken(platform):
    practitioner = create(
        platform, {"resourceType": "Practitioner", "name": [{"family": "Careful"}]}
    )
    bundle = with_request(setter(requester={"reference": practitioner}))
    response = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=30)
    assert response.status_code == 200, response.text
