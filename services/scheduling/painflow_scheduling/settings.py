"""Scheduling service settings (env prefix ``SCHEDULING_``).

``SCHEDULING_SITE_TZ`` (default UTC): the zone date-only values (a last dose known by its date,
a search date, a slot template's hours) are read in. ``SCHEDULING_HOLD_POLICY``: the hold table
(``asra-2018`` by default, or ``asipp-2024``).
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from painflow_shared.settings import SharedSettings


class SchedulingSettings(SharedSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDULING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "scheduling"
    port: int = 8003
    site_tz: str = "UTC"
    hold_policy: Literal["asra-2018", "asipp-2024"] = "asra-2018"
    # a Procedure is recorded once it was performed: one that ends later than a small clock
    # skew is refused, except where a demo performs a booked slot before its time (never
    # production), as follow-up's FOLLOWUP_ACCEPT_FUTURE_OUTCOMES
    accept_future_procedures: bool = False

    @field_validator("site_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # an unknown zone fails at start-up, not at the first booking
        return value

    @model_validator(mode="after")
    def _no_future_procedures_in_production(self) -> SchedulingSettings:
        if self.accept_future_procedures and self.is_production:
            raise ValueError(
                "SCHEDULING_ACCEPT_FUTURE_PROCEDURES is for demos: refused in production"
            )
        return self
