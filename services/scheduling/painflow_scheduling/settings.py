"""Scheduling service settings (env prefix ``SCHEDULING_``).

``SCHEDULING_SITE_TZ`` (default UTC): the zone date-only values (a last dose known by its date,
a search date, a slot template's hours) are read in. ``SCHEDULING_HOLD_POLICY``: the hold table
(``asra-2018`` by default, or ``asipp-2024``).
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import field_validator
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

    @field_validator("site_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # an unknown zone fails at start-up, not at the first booking
        return value
