"""Bad input: every invalid sample from the HL7 validator's test cases gets a 4xx
OperationOutcome from the referral service, never a 5xx, and nothing is stored or published."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from .conftest import FHIR_JSON, stored_counts

pytestmark = pytest.mark.integration


def _invalid_files(samples: Path) -> list[Path]:
    files = sorted(p for p in (samples / "invalid").rglob("*.json") if p.name != "EXPECTED.json")
    assert len(files) >= 30, f"expected the validator's invalid inputs under {samples}/invalid"
    return files


def _resource_type(raw: bytes) -> str | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value.get("resourceType") if isinstance(value, dict) else None


def test_every_invalid_sample_is_refused_with_an_operation_outcome(platform, fhir_samples):
    before = stored_counts(platform)
    refused = {}
    for path in _invalid_files(fhir_samples):
        raw = path.read_bytes()
        targets = [platform.fhir("referral")]
        resource_type = _resource_type(raw)
        if resource_type and resource_type != "Bundle":
            targets.append(f"{platform.fhir('referral')}/{resource_type}")
        for url in targets:
            response = httpx.post(url, content=raw, headers=FHIR_JSON, timeout=30)
            assert 400 <= response.status_code < 500, f"{path.name} -> {url}: {response.status_code} {response.text[:300]}"
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome", path.name
            assert outcome["issue"][0]["severity"] in ("error", "fatal")
            refused[(path.name, url)] = response.status_code
    assert stored_counts(platform) == before, "a refused request stored or published something"
    assert len(refused) > len(_invalid_files(fhir_samples))


def test_wrong_content_type_is_415(platform):
    response = httpx.post(platform.fhir("referral"), content=b"<Bundle/>", headers={"content-type": "application/fhir+xml"})
    assert response.status_code == 415
    assert response.json()["issue"][0]["code"] == "not-supported"


def test_body_over_the_limit_is_413(platform):
    limit = platform.settings["referral"].max_body_bytes
    response = httpx.post(platform.fhir("referral"), content=b" " * (limit + 1), headers=FHIR_JSON, timeout=30)
    assert response.status_code == 413
