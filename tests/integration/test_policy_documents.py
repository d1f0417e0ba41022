"""GET /policies and GET /policies/{name}: each service serves the clinical policy documents it
runs with, open like its CapabilityStatement (real HTTP, the platform as deployed in tests)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {
    "referral": {"triage": "services/referral/painflow_referral/policies/triage-v1.json"},
    "assessment": {
        "mme": "services/assessment/painflow_assessment/policies/mme-v1.json",
        "pathway": "services/assessment/painflow_assessment/policies/pathway-v1.json",
    },
    "scheduling": {
        "holds": "services/scheduling/painflow_scheduling/policies/holds-asra-2018-v1.json",
        "repeat-limits": "services/scheduling/painflow_scheduling/policies/repeat-limits-v1.json",
    },
    "followup": {
        "outcome-measures": "services/followup/painflow_followup/policies/outcome-measures-v1.json",
        "progression": "services/followup/painflow_followup/policies/progression-v1.json",
    },
}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_a_service_lists_and_serves_its_policies_without_a_token(platform, service):
    url = platform.url(service)
    listing = httpx.get(f"{url}/policies", timeout=30)
    assert listing.status_code == 200, listing.text
    assert listing.headers["content-type"].startswith("application/json")
    entries = {e["name"]: e for e in listing.json()["policies"]}
    for name, path in EXPECTED[service].items():
        shipped = json.loads((REPO / path).read_text())
        assert entries[name]["version"] == shipped["version"]
        assert entries[name]["policy"] == shipped["policy"]
        served = httpx.get(f"{url}{entries[name]['href']}", timeout=30)
        assert served.status_code == 200
        assert served.json() == shipped  # the document itself, as the service loaded it
        assert served.headers["cache-control"] == "max-age=300"


def test_an_unknown_policy_is_a_404_operation_outcome(platform):
    response = httpx.get(f"{platform.url('followup')}/policies/no-such-policy", timeout=30)
    assert response.status_code == 404
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"
    assert "GET /policies" in body["issue"][0]["diagnostics"]


def test_the_clinic_draws_its_lines_from_the_services_policies(platform):
    """The clinic's chart thresholds, read over HTTP from follow-up and assessment."""
    from painflow_clinic.fhir import SERVICES, Fhir
    from painflow_clinic.settings import ClinicSettings
    from painflow_clinic.thresholds import chart_thresholds

    settings = ClinicSettings(**{f"{s}_url": platform.url(s) for s in SERVICES})
    measures = json.loads((REPO / EXPECTED["followup"]["outcome-measures"]).read_text())
    mme = json.loads((REPO / EXPECTED["assessment"]["mme"]).read_text())

    async def read() -> Any:
        async with httpx.AsyncClient(timeout=30) as http:
            return await chart_thresholds(Fhir(http, settings, token=None))

    # its own thread: the browser tests' Playwright may hold an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        thresholds = pool.submit(asyncio.run, read()).result()
    assert thresholds.unread == frozenset()
    nrs = measures["nrs"]["important_change"]
    assert (thresholds.change["nrs"].min_points, thresholds.change["nrs"].min_percent) == (
        nrs["min_points"],
        nrs["min_percent"],
    )
    assert thresholds.mme_lines == tuple(sorted(t["at"] for t in mme["thresholds"]))
