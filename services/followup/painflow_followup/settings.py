"""Follow-up service settings (env prefix ``FOLLOWUP_``)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from painflow_shared.settings import SharedSettings


class FollowupSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore", populate_by_name=True)

    service_name: str = "followup"
    port: int = 8004
    # the site's medial branch block threshold: one of the progression policy's options (80, 50)
    mbb_relief_threshold: int = 80
    # how often the overdue job looks for outcome Tasks past their window (0 = never by itself)
    overdue_interval_seconds: float = Field(60.0, ge=0)
    # where procedure orders live: the next step's basedOn names the order there when no
    # assessment event told us its URL
    assessment_base_url: str = "http://127.0.0.1:8002/fhir"
    # an outcome is recorded when it is collected: one dated later than a small clock skew is
    # refused, except where a demo walks a patient through months in minutes (never production)
    accept_future_outcomes: bool = False

    @model_validator(mode="after")
    def _no_future_outcomes_in_production(self) -> FollowupSettings:
        if self.accept_future_outcomes and self.is_production:
            raise ValueError("FOLLOWUP_ACCEPT_FUTURE_OUTCOMES is for demos: refused in production")
        return self
