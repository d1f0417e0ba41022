"""Bad input: every invalid sample from the HL7 validator's test cases gets a 4xx
OperationOutcome from the referral service, never a 5xx, and nothing is stored or published."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from .api import api
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


# Samples whose only defect needs a terminology server (display names of codes); the referral
# service does not call one, so at their own type endpoint they are accepted. Posted to the base,
# like every other sample, they are refused.
NEEDS_TERMINOLOGY = {
    "practitioner-role-example.json": "wrong display name for a NUCC taxonomy code"
}


def _post(url: str, raw: bytes) -> httpx.Response:
    return api.post(url, content=raw, headers=FHIR_JSON, timeout=30)


def _assert_outcome(response: httpx.Response, name: str) -> None:
    assert 400 <= response.status_code < 500, (
        f"{name}: {response.status_code} {response.text[:300]}"
    )
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", name
    assert outcome["issue"][0]["severity"] in ("error", "fatal")
    assert outcome["issue"][0]["diagnostics"], name


def test_every_invalid_sample_posted_to_the_base_is_refused_and_nothing_is_kept(
    platform, fhir_samples
):
    before = stored_counts(platform)
    for path in _invalid_files(fhir_samples):
        _assert_outcome(_post(platform.fhir("referral"), path.read_bytes()), path.name)
    assert stored_counts(platform) == before, "a refused request stored or published something"


def test_invalid_samples_are_refused_at_their_own_type_endpoint_too(platform, fhir_samples):
    before = stored_counts(platform)
    checked = 0
    for path in _invalid_files(fhir_samples):
        raw = path.read_bytes()
        resource_type = _resource_type(raw)
        if not resource_type or resource_type == "Bundle" or path.name in NEEDS_TERMINOLOGY:
            continue
        _assert_outcome(_post(f"{platform.fhir('referral')}/{resource_type}", raw), path.name)
        checked += 1
    assert checked >= 20
    assert stored_counts(platform) == before


def test_wrong_content_type_is_415(platform):
    response = api.post(
        platform.fhir("referral"),
        content=b"<Bundle/>",
        headers={"content-type": "application/fhir+xml"},
    )
    assert response.status_code == 415
    assert response.json()["issue"][0]["code"] == "not-supported"


def test_body_over_the_limit_is_413(platform):
    limit = platform.settings["referral"].max_body_bytes
    response = api.post(
        platform.fhir("referral"), content=b" " * (limit + 1), headers=FHIR_JSON, timeout=30
    )
    assert response.status_code == 413


def test_a_chunked_body_over_the_limit_is_413_too(platform):
    """No Content-Length to check up front: the size is enforced while reading."""
    limit = platform.settings["referral"].max_body_bytes

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    url = f"{platform.fhir('referral')}/Task/any"
    headers = {"content-type": "application/json-patch+json"}
    response = api.patch(url, content=chunks(), headers=headers, timeout=60)
    assert response.status_code == 413
