"""The audit trail on the real platform: who touched which patient, refusals included.

Every guarded request leaves an AuditEvent in the service's ``audit_record`` table, and every
resource a request writes a Provenance, committed with the write itself; both are read back
through ``GET /fhir/AuditEvent`` and ``GET /fhir/Provenance`` with the admin client's token.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from painflow_shared.audit.table import AuditRecord
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration


def _search(platform: Any, kind: str, service: str = "referral", **params: str) -> list[dict]:
    response = api.get(f"{platform.fhir(service)}/{kind}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _subtype(event: dict[str, Any]) -> str:
    return str(event["subtype"][0]["code"])


def _whats(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event.get("entity", []) if "what" in e}


def _provenance_count(platform: Any) -> int:
    with Session(platform.runtime("referral").engine) as session:
        query = select(func.count()).select_from(AuditRecord)
        return int(session.exec(query.where(AuditRecord.kind == "Provenance")).one())


def _client_id(event: dict[str, Any]) -> str:
    return str(event["agent"][0]["who"]["identifier"]["value"])


def test_a_referral_post_leaves_an_audit_event_and_a_provenance_per_resource(platform):
    before = _provenance_count(platform)
    patient_id, request_id = post_referral(platform)
    (event,) = [e for e in _search(platform, "AuditEvent", patient=patient_id)
                if _subtype(e) == "transaction"]  # fmt: skip
    assert (event["action"], event["outcome"], event["outcomeDesc"]) == ("E", "0", "HTTP 200")
    assert event["type"]["code"] == "110110"
    assert {f"Patient/{patient_id}", f"ServiceRequest/{request_id}"} <= _whats(event)
    agent = event["agent"][0]
    assert agent["requestor"] is True and agent["network"]["type"] == "2"
    (trace,) = [d["valueString"] for e in event["entity"] for d in e.get("detail", [])]
    spans = platform.finished_spans
    wait_for(lambda: any(format(s.context.trace_id, "032x") == trace for s in spans()))
    written = _whats(event)
    assert _provenance_count(platform) - before == len(written)  # one per resource, no more
    (provenance,) = _search(platform, "Provenance", target=f"ServiceRequest/{request_id}")
    assert provenance["target"][0]["reference"] == f"ServiceRequest/{request_id}/_history/1"
    assert provenance["activity"]["coding"][0]["code"] == "CREATE"
    assert provenance["agent"][0]["who"]["identifier"]["value"] == _client_id(event)


def test_a_refused_post_leaves_a_failure_audit_event_and_no_provenance(platform):
    bundle = referral_bundle()
    entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    entry["resource"].pop("requester")
    before = _provenance_count(platform)
    started = _latest_recorded(platform)
    response = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=30)
    assert response.status_code == 422, response.text
    assert _provenance_count(platform) == before
    failures = [
        e
        for e in _search(platform, "AuditEvent", date=f"ge{started}", _count="200")
        if e["outcomeDesc"] == "HTTP 422" and _subtype(e) == "transaction"
    ]
    assert len(failures) == 1 and failures[0]["outcome"] == "4"


def _latest_recorded(platform: Any) -> str:
    """The newest AuditEvent's ``recorded`` (a GET, so there is one): later ones are after it."""
    api.get(f"{platform.fhir('referral')}/Patient", params={"_count": "1"}, timeout=30)
    (newest,) = _search(platform, "AuditEvent", _count="1")
    return str(newest["recorded"])


def test_a_read_and_a_search_are_audited_with_the_patient(platform):
    patient_id, _ = post_referral(platform)
    base = platform.fhir("referral")
    assert api.get(f"{base}/Patient/{patient_id}", timeout=30).status_code == 200
    found = api.get(f"{base}/Patient", params={"_id": patient_id}, timeout=30)
    assert found.json()["total"] == 1
    events = _search(platform, "AuditEvent", patient=patient_id)
    by_subtype = {_subtype(e): e for e in events}
    assert by_subtype["read"]["action"] == "R" and by_subtype["read"]["outcome"] == "0"
    assert by_subtype["search-type"]["action"] == "E"
    for event in (by_subtype["read"], by_subtype["search-type"]):
        patient = [e for e in event["entity"] if e.get("role", {}).get("code") == "1"]
        assert [p["what"]["reference"] for p in patient] == [f"Patient/{patient_id}"]


def test_a_401_and_a_403_are_audited(platform, identity):
    patient_id, _ = post_referral(platform)
    base = platform.fhir("referral")
    anonymous = httpx.get(f"{base}/Patient/{patient_id}", timeout=30)
    assert anonymous.status_code == 401
    ehr = {"authorization": f"Bearer {identity.token('ehr')}"}
    refused = httpx.get(f"{base}/Condition", params={"subject": patient_id}, headers=ehr)
    assert refused.status_code == 403
    (unauthenticated,) = [
        e
        for e in _search(platform, "AuditEvent", patient=patient_id)
        if e["outcomeDesc"] == "HTTP 401"
    ]
    assert unauthenticated["outcome"] == "4" and "who" not in unauthenticated["agent"][0]
    assert unauthenticated["agent"][0]["network"]["address"] == "127.0.0.1"
    forbidden = [
        e
        for e in _search(platform, "AuditEvent", agent="ehr", _count="200")
        if e["outcomeDesc"] == "HTTP 403" and _subtype(e) == "search-type"
    ]
    assert forbidden and forbidden[0]["outcome"] == "4"


def test_audit_events_are_found_by_patient_agent_and_date_newest_first(platform):
    patient_id, _ = post_referral(platform)
    api.get(f"{platform.fhir('referral')}/Patient/{patient_id}", timeout=30)
    client = _client_id(_search(platform, "AuditEvent", patient=patient_id)[-1])
    # the client's own, for the platform's services may read the patient too
    events = _search(platform, "AuditEvent", patient=f"Patient/{patient_id}", agent=client)
    assert [_subtype(e) for e in events] == ["read", "transaction"]  # newest first
    read, written = events
    assert read["id"] in {e["id"] for e in _search(platform, "AuditEvent", agent=client)}
    assert _search(platform, "AuditEvent", agent="no-such-client") == []
    mine = {"patient": patient_id, "agent": client}
    since = _search(platform, "AuditEvent", **mine, date=f"ge{read['recorded']}")
    assert [e["id"] for e in since] == [read["id"]]
    until = _search(platform, "AuditEvent", **mine, date=f"lt{read['recorded']}")
    assert [e["id"] for e in until] == [written["id"]]
    one = api.get(f"{platform.fhir('referral')}/AuditEvent/{read['id']}", timeout=30)
    assert one.status_code == 200 and one.json() == read


def test_every_service_serves_and_declares_its_audit(platform):
    for service in ("referral", "assessment", "scheduling", "followup"):
        statement = api.get(f"{platform.fhir(service)}/metadata", timeout=30).json()
        declared = {r["type"]: r for r in statement["rest"][0]["resource"]}
        assert {"AuditEvent", "Provenance"} <= set(declared), service
        params = {p["name"] for p in declared["AuditEvent"]["searchParam"]}
        assert params == {"patient", "agent", "date"}
        assert isinstance(_search(platform, "AuditEvent", service, _count="1"), list)
    wrong = api.get(f"{platform.fhir('referral')}/AuditEvent", params={"name": "x"}, timeout=30)
    assert wrong.status_code == 400


def test_no_audit_row_holds_the_patient_s_name_or_birth_date(platform):
    bundle = referral_bundle()
    posted = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    family, birth_date = posted["name"][0]["family"], posted["birthDate"]
    patient_id, _ = post_referral(platform, bundle)
    api.get(f"{platform.fhir('referral')}/Patient", params={"_id": patient_id}, timeout=30)
    with Session(platform.runtime("referral").engine) as session:
        rows = session.exec(select(AuditRecord)).all()
    assert any(row.patient_id == patient_id for row in rows)
    text = json.dumps([row.model_dump(mode="json") for row in rows])
    assert family not in text and birth_date not in text


def test_views_audit_what_they_returned(platform):
    """$everything and the assessment worklist name the resources and patients they showed."""
    patient_id, request_id = post_referral(platform)
    wait_for(
        lambda: api.get(f"{platform.url('assessment')}/worklist/{request_id}").status_code == 200,
        what="the referral on the assessment worklist",
    )
    wait_for(
        lambda: (
            api.get(f"{platform.fhir('followup')}/Patient/{patient_id}/$everything")
            .json()
            .get("total")
        ),
        what="the patient at the follow-up service",
    )
    shown = [e for e in _search(platform, "AuditEvent", "followup", patient=patient_id)
             if _subtype(e) == "operation"]  # fmt: skip
    assert shown and f"Patient/{patient_id}" in _whats(shown[0])
    assert len(_whats(shown[0])) > 1  # what $everything returned, not only the patient asked
    listed = _search(platform, "AuditEvent", "assessment", patient=patient_id)
    assert any(f"ServiceRequest/{request_id}" in _whats(e) for e in listed)
