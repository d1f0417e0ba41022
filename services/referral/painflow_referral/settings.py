"""Referral service settings (env prefix ``REFERRAL_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from painflow_referral.policies import DEFAULT_POLICY
from painflow_shared.fhir.remote_policy import RemotePolicy, parse_base
from painflow_shared.settings import SharedSettings


class ReferralSettings(SharedSettings):
    """Settings of the referral service.

    Remote FHIR servers (a referral whose subject is an absolute URL): the service fetches only
    from ``REFERRAL_TRUSTED_FHIR_BASES``, a comma-separated list of base URLs (empty by default:
    nothing is fetched). A URL matches a base with the same scheme, host and port and a path
    under the base's path (``https://ehr.example.org/fhir`` takes
    ``https://ehr.example.org/fhir/Patient/1``, not ``https://ehr.example.org/fhir-other/...``).
    Every address the host resolves to must be public, with two explicit exceptions:
    a base that names a literal IP (``http://10.2.0.7:8080/fhir``, ``http://127.0.0.1:8090/fhir``)
    trusts that very address whatever its range; and ``REFERRAL_ALLOW_PRIVATE_FHIR_BASES=true``
    lets trusted host names resolve to private ranges (10/8, 172.16/12, 192.168/16, fc00::/7),
    as an EHR on a hospital network does. Loopback, link-local (cloud metadata), multicast and
    reserved addresses are reachable only through a base naming the literal IP.
    """

    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore", populate_by_name=True)

    service_name: str = "referral"
    port: int = 8001
    triage_policy_file: Path = DEFAULT_POLICY
    require_coverage: bool | None = None  # a site's override of the policy file
    fetch_timeout_seconds: float = 5.0
    fetch_attempts: int = 3
    trusted_fhir_bases: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_private_fhir_bases: bool = False

    @field_validator("trusted_fhir_bases", mode="before")
    @classmethod
    def _split_bases(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_fhir_bases")
    @classmethod
    def _check_bases(cls, bases: list[str]) -> list[str]:
        for base in bases:
            parse_base(base)  # a malformed base stops the service at start, not at first use
        return bases

    def remote_policy(self) -> RemotePolicy:
        return RemotePolicy.from_bases(
            self.trusted_fhir_bases, allow_private=self.allow_private_fhir_bases
        )
