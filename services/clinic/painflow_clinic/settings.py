"""Settings of the clinic web app (environment variables, read by pydantic-settings).

The clinic owns no data and no database: it needs where the four services answer, the identity
provider (the platform's issuer) and a secret to sign its session cookie.
"""

from __future__ import annotations

import secrets

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENVIRONMENTS = frozenset({"dev", "development"})
DEV_USERS = ("coordinator", "clinician", "scheduler", "nurse")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ClinicSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: str = Field("development", validation_alias=_env("PAINFLOW_ENV", "environment"))
    host: str = Field("127.0.0.1", validation_alias=_env("CLINIC_HOST", "host"))
    port: int = Field(8005, validation_alias=_env("CLINIC_PORT", "port"))
    public_url: str = Field("", validation_alias=_env("CLINIC_PUBLIC_URL", "public_url"))
    referral_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=_env("PAINFLOW_REFERRAL_URL", "referral_url")
    )
    assessment_url: str = Field(
        "http://127.0.0.1:8002", validation_alias=_env("PAINFLOW_ASSESSMENT_URL", "assessment_url")
    )
    scheduling_url: str = Field(
        "http://127.0.0.1:8003", validation_alias=_env("PAINFLOW_SCHEDULING_URL", "scheduling_url")
    )
    followup_url: str = Field(
        "http://127.0.0.1:8004", validation_alias=_env("PAINFLOW_FOLLOWUP_URL", "followup_url")
    )
    # the platform's OpenID Connect issuer; empty = no identity provider (refused outside dev)
    auth_issuer: str = Field(
        "http://127.0.0.1:8180/realms/painflow",
        validation_alias=_env("PAINFLOW_AUTH_ISSUER", "auth_issuer"),
    )
    client_id: str = Field("clinic", validation_alias=_env("CLINIC_CLIENT_ID", "client_id"))
    scope: str = Field("openid", validation_alias=_env("CLINIC_SCOPE", "scope"))
    session_secret: str = Field(
        "", validation_alias=_env("CLINIC_SESSION_SECRET", "session_secret")
    )
    request_timeout_seconds: float = 15.0

    @model_validator(mode="after")
    def _checked(self) -> ClinicSettings:
        if not self.is_dev and not self.session_secret:
            raise ValueError("CLINIC_SESSION_SECRET is required outside PAINFLOW_ENV=dev")
        if not self.is_dev and not self.auth_issuer:
            raise ValueError("PAINFLOW_AUTH_ISSUER is required outside PAINFLOW_ENV=dev")
        if not self.session_secret:  # dev: a new secret per process (sign in again on restart)
            self.session_secret = secrets.token_urlsafe(32)
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def is_dev(self) -> bool:
        """Dev sign-in (one click per dev user) is offered only here; production refuses it."""
        return self.environment in DEV_ENVIRONMENTS

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")
