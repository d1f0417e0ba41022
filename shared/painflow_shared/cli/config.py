"""Where the CLI finds the broker and the services (environment, as the services read it)."""

from __future__ import annotations

import os

from painflow_shared.settings import SharedSettings

SERVICES = {"referral": 8001, "assessment": 8002, "scheduling": 8003, "followup": 8004}


def service_url(service: str) -> str:
    """``PAINFLOW_<SERVICE>_URL``, else where ``make run`` starts it."""
    default = f"http://127.0.0.1:{SERVICES[service]}"
    return os.environ.get(f"PAINFLOW_{service.upper()}_URL", default).rstrip("/")


def kafka_settings() -> SharedSettings:
    """The broker address and security settings, from the same variables the services use."""
    return SharedSettings(service_name="cli", trace_console=False)
