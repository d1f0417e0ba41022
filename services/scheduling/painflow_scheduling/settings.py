"""Scheduling service settings (env prefix ``SCHEDULING_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from painflow_shared.settings import SharedSettings


class SchedulingSettings(SharedSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDULING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "scheduling"
    port: int = 8003
