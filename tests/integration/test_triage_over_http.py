"""Auto-triage as the EHR sees it on the triage Task and the ServiceRequest."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from painflow_shared.testing.factories import referral_bundle

from .api import api
from .conftest import post_referral

pytestmark = pytest.mark.integration


def _read(platform, path, **params):
    return api.get(f"{platform.fhir('referral')}/{path}", params=params).json()


def _triage(platform, bundle):
    patient_id, request_id = post_referral(platform, bundle)
    task = _read(platform, "Task", focus=f"ServiceRequest/{request_id}")["entry"][0]["resource"]
    episode = _read(platform, "EpisodeOfCare", patient=f"Patient/{patient_id}")["entry"][0][
        "resource"
    ]
    return task, _read(platform, f"ServiceRequest/{request_id}"), episode


def test_red_flag_is_redirected_to_urgent_care(platform):
    task, request, episode = _triage(platform, referral_bundle(condition_code="G83.4"))
    assert task["status"] == "rejected"
    assert task["businessStatus"]["coding"][0]["code"] == "redirected"
    assert "cauda-equina" in task["statusReason"]["text"]
    assert request["priority"] == "stat"
    assert episode["status"] == "cancelled"
    assert task["meta"]["versionId"] == "2"  # received first, then redirected


def test_recent_injury_is_fast_tracked(platform):
    task, request, episode = _triage(
        platform, referral_bundle(onset=date.today() - timedelta(weeks=3))
    )
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "received",
        "fast-track",
    )
    assert request["priority"] == "urgent"
    assert episode["period"]["start"] == (date.today() - timedelta(weeks=3)).isoformat()


def test_missing_contact_puts_the_referral_on_hold_saying_what_is_missing(platform):
    task, _, episode = _triage(platform, referral_bundle(with_contact=False))
    assert task["status"] == "on-hold"
    assert task["businessStatus"]["text"] == "missing: patient contact"
    assert episode["status"] == "onhold"


def test_free_text_reason_only_is_held_for_a_coded_diagnosis(platform):
    bundle = referral_bundle()
    request = bundle["entry"][2]["resource"]
    request.pop("reasonReference")
    request["reasonCode"] = [{"text": "back pain for months"}]
    bundle["entry"] = [bundle["entry"][0], bundle["entry"][2]]  # no Condition sent either
    task, _, _ = _triage(platform, bundle)
    assert task["status"] == "on-hold"
    assert "coded reason" in task["businessStatus"]["text"]


def test_chronic_pain_waits_for_the_coordinator(platform):
    task, request, episode = _triage(
        platform, referral_bundle(onset=date.today() - timedelta(weeks=40))
    )
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "received",
        "awaiting-coordinator",
    )
    assert request["priority"] == "routine"
    assert episode["status"] == "waitlist"
