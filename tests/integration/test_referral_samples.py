"""Public FHIR samples through the referral service's front door (real HTTP, PostgreSQL, Kafka).

- Synthea patients (``synthea/*.json``) become referral transactions with
  ``painflow_shared.testing.synthea.referral_from_synthea``; the triage outcome of each is
  checked against a table derived by hand from the patient's data and triage-v1.json.
- HL7 examples (``examples/{r4-core,us-core,davinci-crd}``) of type ServiceRequest, Patient,
  Condition or Bundle are POSTed as an EHR would; each is accepted (2xx) or refused with a
  4xx OperationOutcome, as the table says. A 5xx is a bug, never an expected row.

Out of scope: the BSeR examples (``examples/bser/*.xml``) are FHIR XML; the service takes
application/fhir+json only (XML gets 415, see test_invalid_input.py).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from painflow_shared.testing.factories import response_location
from painflow_shared.testing.synthea import SYNTHEA_REFERRAL_SYSTEM, referral_from_synthea

from .api import api
from .conftest import FHIR_JSON

pytestmark = pytest.mark.integration


class Triage(NamedTuple):
    business_status: str
    task_status: str
    episode_start: str  # earliest onset among the pain Conditions sent (the injury date)


# Derived by hand: no Synthea condition is ICD-10-CM, and none is SNOMED 192970008 (the one
# SNOMED red flag), so no red flag; every Synthea Patient has telecom and address and every
# referral has reasonReference, so nothing is on hold; the fast track needs the earliest
# onset under 12 weeks before today, and the latest earliest-onset here is 2021.
SYNTHEA_EXPECTED: dict[str, Triage] = {
    # chronic pain 2007-08-30, migraine 2008: years old, no red flag
    "Bradly_Douglas": Triage("awaiting-coordinator", "received", "2007-08-30"),
    # whiplash 2018-12-12 (resolved): over 12 weeks, no red flag; concussion is not a pain condition
    "Bradly_Pfannerstill": Triage("awaiting-coordinator", "received", "2018-12-12"),
    # sprain of ankle 2015-04-16: over 12 weeks; epilepsy is not sent
    "Brett_Gottlieb": Triage("awaiting-coordinator", "received", "2015-04-16"),
    # whiplash 2017-01-21: over 12 weeks, no red flag
    "Caridad_Olivares": Triage("awaiting-coordinator", "received", "2017-01-21"),
    # migraine 1991-12-06, chronic pain 1992; diabetic neuropathy (1991) is not pain
    "Danae_Kshlerin": Triage("awaiting-coordinator", "received", "1991-12-06"),
    # migraine 1992-01-07, chronic pain 1992, sprain 2015; hydrocodone is no flag
    "Eliseo_Cummings": Triage("awaiting-coordinator", "received", "1992-01-07"),
    # whiplash 2017-05-06: over 12 weeks, no red flag
    "Fabian_Murray": Triage("awaiting-coordinator", "received", "2017-05-06"),
    # rib fracture 2011-07-07, SNOMED 33737001: red flag 'fracture' is ICD-10-CM spine
    "Jacki_Feil": Triage("awaiting-coordinator", "received", "2011-07-07"),
    # ankle sprain 2013-01-08, whiplash 2017: earliest is 2013, over 12 weeks
    "Louis_Ullrich": Triage("awaiting-coordinator", "received", "2013-01-08"),
    # chronic pain 1992-02-03, migraine 1992; hand laceration 2020 is not a pain condition
    "Oswaldo_Mante": Triage("awaiting-coordinator", "received", "1992-02-03"),
    # migraine 1993-08-01, chronic pain 1993: years old, no red flag
    "Quintin_Parker": Triage("awaiting-coordinator", "received", "1993-08-01"),
    # ankle sprain 2021-02-16: the most recent injury here, still far over 12 weeks
    "Stephen_McLaughlin": Triage("awaiting-coordinator", "received", "2021-02-16"),
    # ankle sprain 2014-10-05, rotator cuff 2020: earliest 2014, over 12 weeks
    "Trent_Jaskolski": Triage("awaiting-coordinator", "received", "2014-10-05"),
    # opioid abuse 1988-10-25 (not a red-flag code in policy v1), hand osteoarthritis 2019
    "Virginia_Mercado": Triage("awaiting-coordinator", "received", "1988-10-25"),
    # rheumatoid arthritis 2009-04-04 (arthritis counts as pain), whiplash 2016, sprain 2018
    "Willy_Koepp": Triage("awaiting-coordinator", "received", "2009-04-04"),
}

# Expected HTTP status per HL7 example. Single resources go to {base}/fhir/{type}: a
# ServiceRequest is a referral (subject must be a Patient known here, or an absolute URL on a
# trusted FHIR base), a Patient is a plain create, and a Condition must name a Patient known
# here. Every relative reference must resolve here (422 naming the element otherwise). POST
# create assigns the id, so posting Patient-example does not make "Patient/example" known:
# every example Condition points at a Patient we do not have.
EXAMPLES_EXPECTED: dict[str, int] = {
    # Bundles (to {base}/fhir)
    "r4-core/Bundle-bundle-example.json": 400,  # a searchset, not a transaction
    "r4-core/Bundle-bundle-response.json": 400,  # a transaction-response, not a transaction
    # a transaction, but with a conditional PUT url, DELETE/GET entries, a Parameters resource
    "r4-core/Bundle-bundle-transaction.json": 400,
    "us-core/PractitionerRole_Practitioner_Endpoint_Bundle_Example.json": 400,  # a searchset
    # Conditions: valid R4, but their subject is not a Patient known here
    "r4-core/Condition-example.json": 422,  # burnt ear; subject Patient/example
    "r4-core/Condition-example2.json": 422,  # asthma; subject Patient/example
    "r4-core/Condition-f001.json": 422,  # heart valve disorder; subject Patient/f001
    "us-core/condition-SDOH-example.json": 422,  # SDOH problem; subject Patient/example
    "us-core/condition-encounter-diagnosis-example1.json": 422,  # subject Patient/example
    # Patients: plain create, when every reference resolves
    "r4-core/Patient-example.json": 422,  # managingOrganization Organization/1 is not known here
    "r4-core/Patient-f001.json": 422,  # managingOrganization Organization/f001 is not known here
    # contact.organization, managingOrganization and link.other name nothing known here
    "r4-core/Patient-pat1.json": 422,
    "us-core/patient-example.json": 201,
    "davinci-crd/patient-example.json": 201,
    # ServiceRequests: referral rules
    # subject Patient/dicom and requester Practitioner/example are not known here
    "r4-core/ServiceRequest-di.json": 422,
    # subject Patient/example and requester Practitioner/example are not known here
    "r4-core/ServiceRequest-do-not-turn.json": 422,
    # no requester, no reason, subject Patient/example unknown
    "r4-core/ServiceRequest-example.json": 422,
    "r4-core/ServiceRequest-physical-therapy.json": 422,  # subject Patient/example unknown
    # subject Patient/example unknown (its reason is a contained Condition), and so are its
    # requester, basedOn and the contained Provenance's targets and agents
    "r4-core/ServiceRequest-physiotherapy.json": 422,
    # no reason; subject Patient/example and requester unknown
    "us-core/servicerequest-foodpantry-referral.json": 422,
    # subject Patient/example, encounter, requester and reasonReference are not known here
    "us-core/servicerequest-rehab.json": 422,
    # subject Patient/example and requester unknown; basedOn and performer are absolute URLs
    # on a server that is not a trusted FHIR base
    "davinci-crd/servicerequest-example.json": 422,
}
EXAMPLE_TYPES = {"ServiceRequest", "Patient", "Condition", "Bundle"}
EXAMPLE_FOLDERS = ("r4-core", "us-core", "davinci-crd")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    response = api.post(url, json=body, headers=FHIR_JSON, timeout=60)
    assert response.status_code < 500, (
        f"server error {response.status_code} at {url}: {response.text[:2000]}"
    )
    return response


def _search(url: str, **params: str) -> dict[str, Any]:
    response = api.get(url, params=params, timeout=30)
    assert response.status_code == 200, response.text[:1000]
    bundle: dict[str, Any] = response.json()
    assert bundle["type"] == "searchset"
    return bundle


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry") or []]


def _post_synthea(platform: Any, path: Path, today: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """(referral sent, transaction-response) for one Synthea patient."""
    referral = referral_from_synthea(_load(path), today=today)
    response = _post(platform.fhir("referral"), referral)
    assert response.status_code == 200, (
        f"{path.name}: {response.status_code} {response.text[:1000]}"
    )
    return referral, response.json()


def _earliest_pain_onset(referral: dict[str, Any]) -> str:
    onsets = [
        e["resource"]["onsetDateTime"][:10]
        for e in referral["entry"]
        if e["resource"]["resourceType"] == "Condition"
    ]
    return min(onsets)


def _synthea_file(samples: Path, person: str) -> Path:
    (path,) = (samples / "synthea").glob(f"{person}_*.json")
    return path


def test_the_synthea_table_covers_every_sample(fhir_samples):
    people = [p.name.rsplit("_", 1)[0] for p in (fhir_samples / "synthea").glob("*.json")]
    assert sorted(people) == sorted(SYNTHEA_EXPECTED)


@pytest.mark.parametrize("person", sorted(SYNTHEA_EXPECTED))
def test_synthea_referral_is_triaged_as_the_table_says(platform, fhir_samples, person):
    expected = SYNTHEA_EXPECTED[person]
    referral, answer = _post_synthea(platform, _synthea_file(fhir_samples, person), date.today())
    base = platform.fhir("referral")
    request_ref = response_location(answer, "ServiceRequest")
    patient_ref = response_location(answer, "Patient")

    tasks = _resources(_search(f"{base}/Task", focus=request_ref))
    assert len(tasks) == 1, tasks
    task = tasks[0]
    codes = [c["code"] for c in task["businessStatus"]["coding"]]
    assert codes == [expected.business_status], task["businessStatus"]
    assert task["status"] == expected.task_status, task

    episodes = [
        e
        for e in _resources(_search(f"{base}/EpisodeOfCare", patient=patient_ref))
        if request_ref in [r.get("reference") for r in e.get("referralRequest", [])]
    ]
    assert len(episodes) == 1, episodes
    assert _earliest_pain_onset(referral) == expected.episode_start, (
        "the pain-condition rule changed"
    )
    assert episodes[0]["period"]["start"] == expected.episode_start


def _example_files(samples: Path) -> dict[str, Path]:
    files = {}
    for folder in EXAMPLE_FOLDERS:
        for path in sorted((samples / "examples" / folder).glob("*.json")):
            if _load(path).get("resourceType") in EXAMPLE_TYPES:
                files[f"{folder}/{path.name}"] = path
    return files


def test_the_examples_table_covers_every_sample(fhir_samples):
    assert sorted(_example_files(fhir_samples)) == sorted(EXAMPLES_EXPECTED)


@pytest.mark.parametrize("name", list(EXAMPLES_EXPECTED))
def test_hl7_example_is_accepted_or_refused_as_the_table_says(platform, fhir_samples, name):
    body = _load(fhir_samples / "examples" / name)
    kind = body["resourceType"]
    url = platform.fhir("referral") if kind == "Bundle" else f"{platform.fhir('referral')}/{kind}"
    response = _post(url, body)
    assert response.status_code == EXAMPLES_EXPECTED[name], (
        f"{name}: {response.status_code} {response.text[:1000]}"
    )
    answer = response.json()
    if response.status_code >= 400:
        assert answer["resourceType"] == "OperationOutcome", answer
        assert answer["issue"][0]["severity"] in ("error", "fatal")
    else:
        assert answer["resourceType"] == kind and answer.get("id"), answer


def test_the_same_synthea_referral_twice_is_one_referral(platform, fhir_samples):
    # Yesterday's referral: a different identifier from today's (posted by the table test),
    # so the first POST here is a real first submission in any test order.
    path = _synthea_file(fhir_samples, "Stephen_McLaughlin")
    yesterday = date.today() - timedelta(days=1)
    referral, first = _post_synthea(platform, path, yesterday)
    _, second = _post_synthea(platform, path, yesterday)

    request_ref = response_location(first, "ServiceRequest")
    created = [
        e["response"]["status"]
        for e in first["entry"]
        if e["response"]["location"].startswith(f"{request_ref}/")
    ]
    assert created and created[0].startswith("201"), first
    assert response_location(second, "ServiceRequest") == request_ref
    assert all(e["response"]["status"].startswith("200") for e in second["entry"]), second

    identifier = next(
        i for i in _request_of(referral)["identifier"] if i["system"] == SYNTHEA_REFERRAL_SYSTEM
    )
    found = _search(
        f"{platform.fhir('referral')}/ServiceRequest",
        identifier=f"{identifier['system']}|{identifier['value']}",
    )
    assert found["total"] == 1
    assert f"ServiceRequest/{_resources(found)[0]['id']}" == request_ref
    assert len(_resources(_search(f"{platform.fhir('referral')}/Task", focus=request_ref))) == 1


def _request_of(referral: dict[str, Any]) -> dict[str, Any]:
    return next(
        e["resource"]
        for e in referral["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
