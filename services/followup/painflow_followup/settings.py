"""Follow-up service settings (env prefix ``FOLLOWUP_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from painflow_shared.settings import SharedSettings


class FollowupSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore", populate_by_name=True)

    service_name: str = "followup"
    port: int = 8004
