"""Assessment service settings (env prefix ``ASSESSMENT_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from painflow_shared.settings import SharedSettings


class AssessmentSettings(SharedSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSESSMENT_", extra="ignore", populate_by_name=True
    )

    service_name: str = "assessment"
    port: int = 8002
