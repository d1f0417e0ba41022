"""An external FHIR client, the SMART `fhirclient` package, uses the referral service unaided."""

from __future__ import annotations

import pytest
from fhirclient import client as smart_client
from fhirclient.models.condition import Condition
from fhirclient.models.patient import Patient
from fhirclient.models.servicerequest import ServiceRequest
from fhirclient.models.task import Task

from painflow_shared.testing.factories import condition, patient, service_request

pytestmark = pytest.mark.integration


def test_smart_fhirclient_creates_and_reads_a_referral(platform, identity):
    smart = smart_client.FHIRClient(
        settings={"app_id": "painflow-test-ehr", "api_base": platform.fhir("referral")}
    )
    server = smart.server
    # the client reads the CapabilityStatement's SMART security and finds the token endpoint
    smart.prepare()
    assert server.auth is not None and server.auth.auth_type == "oauth2"
    assert server.auth._token_uri == identity.token_url
    server.auth.access_token = identity.token("admin")  # a Keycloak token (reads back too)

    created_patient = Patient(patient(mrn="smart-1")).create(server)
    patient_id = created_patient["id"]
    condition_json = condition(f"Patient/{patient_id}")
    condition_id = Condition(condition_json).create(server)["id"]
    referral = ServiceRequest(service_request(f"Patient/{patient_id}", f"Condition/{condition_id}"))
    created = referral.create(server)
    assert created["resourceType"] == "ServiceRequest"

    read_back = ServiceRequest.read(created["id"], server)
    assert read_back.subject.reference == f"Patient/{patient_id}"
    assert read_back.code.coding[0].code == "3457005"

    tasks = Task.where(struct={"focus": f"ServiceRequest/{created['id']}"}).perform_resources(
        server
    )
    assert len(tasks) == 1 and tasks[0].status == "received"
    found = ServiceRequest.where(struct={"patient": patient_id}).perform_resources(server)
    assert [r.id for r in found] == [created["id"]]
