"""The referral service as an EHR integrator uses it: FHIR REST with standard semantics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from painflow_shared.testing.factories import (
    EHR_REFERRAL_SYSTEM,
    condition,
    patient,
    referral_bundle,
    service_request,
)
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral
from .events_reader import referral_events_for

pytestmark = pytest.mark.integration
PATCH = {"content-type": "application/json-patch+json"}


def _fhir(platform: Any) -> httpx.Client:
    return api.client(base_url=platform.fhir("referral"), headers=FHIR_JSON, timeout=30)


def _task_for(client: httpx.Client, request_id: str) -> dict[str, Any]:
    bundle = client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
    assert bundle["total"] == 1
    return bundle["entry"][0]["resource"]


def test_create_read_vread_and_history_with_etags(platform):
    with _fhir(platform) as client:
        created = client.post("/Patient", json=patient())
        assert created.status_code == 201
        assert created.headers["etag"] == 'W/"1"'
        assert created.headers["location"].endswith(f"/Patient/{created.json()['id']}/_history/1")
        assert "last-modified" in created.headers
        pid = created.json()["id"]
        updated = client.put(
            f"/Patient/{pid}",
            json={**created.json(), "gender": "male"},
            headers={"if-match": 'W/"1"'},
        )
        assert updated.status_code == 200 and updated.headers["etag"] == 'W/"2"'
        assert client.get(f"/Patient/{pid}").json()["gender"] == "male"
        assert client.get(f"/Patient/{pid}/_history/1").json()["gender"] == "female"
        history = client.get(f"/Patient/{pid}/_history").json()
        assert history["type"] == "history" and history["total"] == 2
        assert client.get("/Patient/does-not-exist").status_code == 404


def test_stale_if_match_is_412_and_changes_nothing(platform):
    with _fhir(platform) as client:
        pid = client.post("/Patient", json=patient()).json()["id"]
        current = client.get(f"/Patient/{pid}").json()
        client.put(f"/Patient/{pid}", json=current, headers={"if-match": 'W/"1"'})
        stale = client.put(
            f"/Patient/{pid}", json={**current, "gender": "other"}, headers={"if-match": 'W/"1"'}
        )
        assert stale.status_code == 412
        assert stale.json()["resourceType"] == "OperationOutcome"
        assert client.get(f"/Patient/{pid}").json()["gender"] == "female"
        assert (
            client.put(f"/Patient/{pid}", json=current, headers={"if-match": "3"}).status_code
            == 400
        )


def test_conditional_create_returns_the_existing_resource(platform):
    with _fhir(platform) as client:
        body = patient(mrn="cond-create-1")
        query = f"identifier={body['identifier'][0]['system']}|cond-create-1"
        first = client.post("/Patient", json=body, headers={"if-none-exist": query})
        second = client.post("/Patient", json=body, headers={"if-none-exist": query})
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]
        found = client.get(
            "/Patient", params={"identifier": f"{body['identifier'][0]['system']}|cond-create-1"}
        ).json()
        assert found["total"] == 1


def test_the_same_referral_posted_twice_is_one_referral(platform):
    bundle = referral_bundle(identifier="dedup-1")
    first = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON).json()
    second = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON).json()
    locations = [[e["response"]["location"] for e in r["entry"]] for r in (first, second)]
    assert locations[0] == locations[1]
    assert {e["response"]["status"] for e in second["entry"]} == {"200 OK"}
    with _fhir(platform) as client:
        found = client.get(
            "/ServiceRequest", params={"identifier": f"{EHR_REFERRAL_SYSTEM}|dedup-1"}
        ).json()
        assert found["total"] == 1
        request_id = found["entry"][0]["resource"]["id"]
        assert (
            client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()["total"]
            == 1
        )
        single = service_request(
            f"Patient/{found['entry'][0]['resource']['subject']['reference'].split('/')[1]}",
            None,
            identifier="dedup-1",
        )
        single["reasonCode"] = [{"text": "low back pain"}]
        again = client.post("/ServiceRequest", json=single)
        assert again.status_code == 200 and again.json()["id"] == request_id


def test_single_service_request_for_a_known_patient(platform):
    with _fhir(platform) as client:
        pid = client.post("/Patient", json=patient()).json()["id"]
        cid = client.post("/Condition", json=condition(f"Patient/{pid}")).json()["id"]
        created = client.post(
            "/ServiceRequest", json=service_request(f"Patient/{pid}", f"Condition/{cid}")
        )
        assert created.status_code == 201, created.text
        task = _task_for(client, created.json()["id"])
        assert task["status"] == "received"
        unknown = client.post("/ServiceRequest", json=service_request("Patient/nobody", None))
        assert unknown.status_code == 422
        paths = [i.get("expression", [""])[0] for i in unknown.json()["issue"]]
        assert any(p.endswith(".subject") for p in paths)


@pytest.mark.parametrize(
    ("mutate", "status", "path"),
    [
        (lambda sr: sr.pop("subject"), 400, ".subject"),  # 1..1 in R4: a structural error
        (lambda sr: sr.pop("reasonReference"), 422, ".reasonCode"),
        (lambda sr: sr.pop("requester"), 422, ".requester"),
        (lambda sr: sr.update(status="bogus"), 400, ".status"),
        (lambda sr: sr.update(priority="whenever"), 400, ".priority"),
        (lambda sr: sr.update(intent="wish"), 400, ".intent"),
    ],
)
def test_referral_rules_and_bindings_are_refused_with_the_path(platform, mutate, status, path):
    bundle = referral_bundle()
    mutate(bundle["entry"][2]["resource"])
    before = api.get(f"{platform.fhir('referral')}/ServiceRequest", params={"_count": "0"}).json()[
        "total"
    ]
    response = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    expressions = [e for issue in response.json()["issue"] for e in issue.get("expression", [])]
    assert any(e.endswith(path) for e in expressions), expressions
    after = api.get(f"{platform.fhir('referral')}/ServiceRequest", params={"_count": "0"}).json()[
        "total"
    ]
    assert after == before


def test_search_paging_and_include(platform):
    mrn = "paging-1"
    for _ in range(5):
        post_referral(platform, referral_bundle(mrn=mrn))
    with _fhir(platform) as client:
        pid = client.get(
            "/Patient", params={"identifier": f"urn:oid:2.16.840.1.113883.3.9999.1|{mrn}"}
        ).json()["entry"][0]["resource"]["id"]
        page = client.get(
            "/ServiceRequest", params={"patient": f"Patient/{pid}", "_count": "2"}
        ).json()
        assert page["total"] == 5 and len(page["entry"]) == 2
        seen = [e["resource"]["id"] for e in page["entry"]]
        while next_link := next(
            (link["url"] for link in page["link"] if link["relation"] == "next"), None
        ):
            page = api.get(next_link).json()
            seen += [e["resource"]["id"] for e in page["entry"]]
        assert len(seen) == len(set(seen)) == 5
        included = client.get(
            "/ServiceRequest",
            params={"patient": pid, "_include": "ServiceRequest:patient", "_count": "1"},
        ).json()
        modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in included["entry"]]
        assert modes == [("ServiceRequest", "match"), ("Patient", "include")]
        assert (
            client.get(
                "/ServiceRequest",
                params={"patient": pid, "status": "active", "priority": "routine"},
            ).json()["total"]
            == 5
        )
        assert (
            client.get(
                "/ServiceRequest",
                params={"patient": pid, "authored": "ge2000-01-01", "_lastUpdated": "gt2000"},
            ).json()["total"]
            == 5
        )
        assert (
            client.get(
                "/ServiceRequest", params={"patient": pid, "authored": "lt2000-01-01"}
            ).json()["total"]
            == 0
        )
        assert (
            client.get(
                "/Patient", params={"family": "testpat", "birthdate": "1971-04-12", "_count": "1"}
            ).json()["total"]
            >= 1
        )
        assert client.get("/ServiceRequest", params={"nonsense": "1"}).status_code == 400


def test_coordinator_accepts_and_rejects_through_fhir_and_events_follow(platform):
    _, accept_id = post_referral(platform)
    _, reject_id = post_referral(platform)
    with _fhir(platform) as client:
        task = _task_for(client, accept_id)
        accepted = client.patch(
            f"/Task/{task['id']}",
            json=[{"op": "replace", "path": "/status", "value": "accepted"}],
            headers=PATCH,
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
        task = _task_for(client, reject_id)
        no_reason = client.put(f"/Task/{task['id']}", json={**task, "status": "rejected"})
        assert no_reason.status_code == 422
        rejected = client.put(
            f"/Task/{task['id']}",
            json={
                **task,
                "status": "rejected",
                "statusReason": {"text": "not an interventional candidate"},
            },
        )
        assert rejected.status_code == 200
        backwards = client.put(
            f"/Task/{task['id']}", json={**rejected.json(), "status": "accepted"}
        )
        assert backwards.status_code == 422
    assert wait_for(
        lambda: "painflow.referral.accepted" in referral_events_for(platform, accept_id),
        what="accepted event",
    )
    assert wait_for(
        lambda: "painflow.referral.rejected" in referral_events_for(platform, reject_id),
        what="rejected event",
    )
    worklist = wait_for(lambda: _ready(platform, accept_id), what="assessment sees the acceptance")
    assert worklist["status"] == "ready-for-intake"


def _ready(platform, request_id):
    item = api.get(f"{platform.url('assessment')}/worklist/{request_id}").json()
    return item if item.get("status") == "ready-for-intake" else None


def test_the_ehr_revokes_a_referral_and_the_work_is_cancelled_downstream(platform):
    patient_id, request_id = post_referral(platform)
    with _fhir(platform) as client:
        current = client.get(f"/ServiceRequest/{request_id}")
        revoked = client.put(
            f"/ServiceRequest/{request_id}",
            json={**current.json(), "status": "revoked"},
            headers={"if-match": current.headers["etag"]},
        )
        assert revoked.status_code == 200
        assert _task_for(client, request_id)["status"] == "cancelled"
        episode = client.get("/EpisodeOfCare", params={"patient": f"Patient/{patient_id}"}).json()[
            "entry"
        ][0]["resource"]
        assert episode["status"] == "cancelled"
    assert wait_for(
        lambda: "painflow.referral.cancelled" in referral_events_for(platform, request_id),
        what="cancelled event",
    )
    item = wait_for(
        lambda: _status(platform, request_id, "closed-cancelled"), what="assessment closes it"
    )
    assert item["status"] == "closed-cancelled"


def _status(platform, request_id, status):
    item = api.get(f"{platform.url('assessment')}/worklist/{request_id}").json()
    return item if item.get("status") == status else None


def test_batch_processes_entries_independently(platform):
    good = referral_bundle()["entry"][0]
    bad = {
        "resource": {"resourceType": "Patient", "gender": "bogus"},
        "request": {"method": "POST", "url": "Patient"},
    }
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [good, bad]}
    response = api.post(platform.fhir("referral"), json=batch, headers=FHIR_JSON)
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"].startswith("201")
    assert entries[1]["response"]["status"] == "400"
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


def test_metadata_lists_what_works(platform):
    statement = api.get(f"{platform.fhir('referral')}/metadata").json()
    assert (
        statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    )
    rest = statement["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch"}
    by_type = {r["type"]: r for r in rest["resource"]}
    assert {i["code"] for i in by_type["Task"]["interaction"]} == {
        "read",
        "vread",
        "history-instance",
        "search-type",
        "update",
        "patch",
    }
    assert by_type["ServiceRequest"]["conditionalCreate"] is True
    assert by_type["ServiceRequest"]["updateCreate"] is True
    assert by_type["Task"]["updateCreate"] is False
    with _fhir(platform) as client:
        for resource_type, capability in by_type.items():
            for param in capability.get("searchParam", []):
                value = {
                    "date": "ge2000-01-01",
                    "reference": "Patient/x",
                    "string": "a",
                    "token": "x",
                }[param["type"]]
                answer = client.get(f"/{resource_type}", params={param["name"]: value})
                assert answer.status_code == 200, (resource_type, param, answer.text)
        assert (
            client.post("/EpisodeOfCare", json={"resourceType": "EpisodeOfCare"}).status_code == 404
        )


def test_put_of_a_referral_is_validated_like_a_create_and_keeps_its_case(platform):
    _, request_id = post_referral(platform)
    with _fhir(platform) as client:
        current = client.get(f"/ServiceRequest/{request_id}")
        body = {**current.json(), "priority": "urgent"}
        updated = client.put(
            f"/ServiceRequest/{request_id}",
            json=body,
            headers={"if-match": current.headers["etag"]},
        )
        assert updated.status_code == 200 and updated.json()["priority"] == "urgent"
        assert (
            client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()["total"]
            == 1
        )
        no_requester = {k: v for k, v in updated.json().items() if k != "requester"}
        refused = client.put(f"/ServiceRequest/{request_id}", json=no_requester)
        assert refused.status_code == 422
        assert refused.json()["issue"][0]["expression"] == ["ServiceRequest.requester"]
        stale = client.put(
            f"/ServiceRequest/{request_id}", json=body, headers={"if-match": 'W/"1"'}
        )
        assert stale.status_code == 412


def test_put_at_a_new_id_opens_a_referral_and_identifiers_stay_unique(platform):
    patient_id, request_id = post_referral(platform)
    with _fhir(platform) as client:
        existing = client.get(f"/ServiceRequest/{request_id}").json()
        fresh = {
            **service_request(f"Patient/{patient_id}", None, identifier="put-new-1"),
            "id": "ehr-chosen-1",
        }
        fresh["reasonCode"] = [
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}]}
        ]
        created = client.put("/ServiceRequest/ehr-chosen-1", json=fresh)
        assert created.status_code == 201, created.text
        assert _task_for(client, "ehr-chosen-1")["status"] in ("received", "on-hold")
        clash = {**created.json(), "identifier": existing["identifier"]}
        assert client.put("/ServiceRequest/ehr-chosen-1", json=clash).status_code == 409


def test_the_same_referral_posted_concurrently_is_still_one_referral(platform):
    bundle = referral_bundle(identifier="concurrent-1", mrn="concurrent-mrn-1")

    def post(_: int) -> httpx.Response:
        return api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=60)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(post, range(6)))
    assert [r.status_code for r in responses] == [200] * 6, [r.text[:200] for r in responses]
    with _fhir(platform) as client:
        found = client.get(
            "/ServiceRequest", params={"identifier": f"{EHR_REFERRAL_SYSTEM}|concurrent-1"}
        )
        assert found.json()["total"] == 1
        patients = client.get(
            "/Patient", params={"identifier": "urn:oid:2.16.840.1.113883.3.9999.1|concurrent-mrn-1"}
        )
        assert patients.json()["total"] == 1


def test_different_referrals_for_one_new_patient_at_once_share_one_patient(platform):
    bundles = [referral_bundle(mrn="same-person-at-once") for _ in range(5)]

    def post(bundle: dict[str, Any]) -> httpx.Response:
        return api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=60)

    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(post, bundles))
    assert [r.status_code for r in responses] == [200] * 5, [r.text[:200] for r in responses]
    with _fhir(platform) as client:
        system = "urn:oid:2.16.840.1.113883.3.9999.1"
        patients = client.get(
            "/Patient", params={"identifier": f"{system}|same-person-at-once"}
        ).json()
        assert patients["total"] == 1
        pid = patients["entry"][0]["resource"]["id"]
        assert client.get("/ServiceRequest", params={"patient": pid}).json()["total"] == 5


def test_a_patient_update_cannot_take_another_patients_identifier(platform):
    with _fhir(platform) as client:
        first = client.post("/Patient", json=patient(mrn="owner-1")).json()
        second = client.post("/Patient", json=patient(mrn="owner-2")).json()
        taken = {**second, "identifier": second["identifier"] + first["identifier"]}
        response = client.put(f"/Patient/{second['id']}", json=taken)
        assert response.status_code == 409
        assert response.json()["issue"][0]["code"] == "conflict"


def test_a_patient_named_by_its_absolute_url_is_the_same_patient_in_a_search(platform):
    patient_id, request_id = post_referral(platform)
    absolute = f"{platform.fhir('referral')}/Patient/{patient_id}"
    with _fhir(platform) as client:
        by_url = client.get("/ServiceRequest", params={"patient": absolute}).json()
        by_id = client.get("/ServiceRequest", params={"patient": f"Patient/{patient_id}"}).json()
        elsewhere = client.get(
            "/ServiceRequest",
            params={"patient": f"https://ehr.example.org/fhir/Patient/{patient_id}"},
        ).json()
    assert [e["resource"]["id"] for e in by_url["entry"]] == [request_id]
    assert by_url["total"] == by_id["total"] == 1
    assert elsewhere["total"] == 0
