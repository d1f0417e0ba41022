"""Referral service settings (env prefix ``REFERRAL_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from painflow_referral.domain.policy import DEFAULT_POLICY
from painflow_shared.settings import SharedSettings


class ReferralSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore", populate_by_name=True)

    service_name: str = "referral"
    port: int = 8001
    triage_policy_file: Path = DEFAULT_POLICY
    require_coverage: bool | None = None  # a site's override of the policy file
    fetch_timeout_seconds: float = 5.0
    fetch_attempts: int = 3
