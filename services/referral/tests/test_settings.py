"""The referral service's trusted FHIR bases, read from the environment as an operator sets them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from painflow_referral.settings import ReferralSettings


def test_no_fhir_base_is_trusted_by_default(monkeypatch):
    monkeypatch.delenv("REFERRAL_TRUSTED_FHIR_BASES", raising=False)
    policy = ReferralSettings().remote_policy()
    assert policy.trusted == () and not policy.allow_private
    assert not policy.is_trusted("https://ehr.example.org/fhir/Patient/1")


def test_trusted_bases_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv(
        "REFERRAL_TRUSTED_FHIR_BASES", " https://ehr.example.org/fhir , http://10.2.0.7:8080/fhir/,"
    )
    monkeypatch.setenv("REFERRAL_ALLOW_PRIVATE_FHIR_BASES", "true")
    settings = ReferralSettings()
    assert settings.trusted_fhir_bases == [
        "https://ehr.example.org/fhir",
        "http://10.2.0.7:8080/fhir/",
    ]
    policy = settings.remote_policy()
    assert policy.allow_private
    assert policy.is_trusted("http://10.2.0.7:8080/fhir/Patient/1")
    assert not policy.is_trusted("https://ehr.example.org/fhir-other/Patient/1")


@pytest.mark.parametrize("base", ["https://user@ehr.example.org/fhir", "ehr.example.org/fhir"])
def test_a_malformed_trusted_base_stops_the_service_at_start(monkeypatch, base):
    monkeypatch.setenv("REFERRAL_TRUSTED_FHIR_BASES", base)
    with pytest.raises(ValidationError, match="trusted FHIR base"):
        ReferralSettings()
