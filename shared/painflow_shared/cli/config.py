"""Where the CLI finds the broker, the services and its token (environment, as the services
read it)."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import click
import httpx

from painflow_shared.auth.client import ClientCredentials, TokenError, discover
from painflow_shared.settings import SharedSettings

SERVICES = {"referral": 8001, "assessment": 8002, "scheduling": 8003, "followup": 8004}


def service_url(service: str) -> str:
    """``PAINFLOW_<SERVICE>_URL``, else where ``make run`` starts it."""
    default = f"http://127.0.0.1:{SERVICES[service]}"
    return os.environ.get(f"PAINFLOW_{service.upper()}_URL", default).rstrip("/")


def kafka_settings() -> SharedSettings:
    """The broker address and security settings, from the same variables the services use."""
    return SharedSettings(service_name="cli", trace_console=False)


DEV_ISSUER = "http://127.0.0.1:8180/realms/painflow"


class StaticBearer(httpx.Auth):
    """``PAINFLOW_TOKEN``: a token the operator already has."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def issuer() -> str:
    return os.environ.get("PAINFLOW_AUTH_ISSUER", DEV_ISSUER).rstrip("/")


def client_credentials(client_id: str) -> ClientCredentials:
    """A client of the identity provider: its secret (``PAINFLOW_CLIENT_SECRET``) or private key
    (``PAINFLOW_CLIENT_KEY``, a PEM file: SMART Backend Services); in development only, the dev
    realm's documented secret ``<client>-dev-secret`` (deploy/keycloak/)."""
    token_url = str(discover(issuer())["token_endpoint"])
    key_file = os.environ.get("PAINFLOW_CLIENT_KEY")
    if key_file:
        return ClientCredentials(token_url, client_id, private_key_pem=Path(key_file).read_bytes())
    secret = os.environ.get("PAINFLOW_CLIENT_SECRET")
    if secret is None:
        if os.environ.get("PAINFLOW_ENV", "development") != "development":
            raise click.UsageError("set PAINFLOW_CLIENT_SECRET or PAINFLOW_CLIENT_KEY")
        secret = f"{client_id}-dev-secret"
    return ClientCredentials(token_url, client_id, secret=secret)


def service_auth() -> httpx.Auth:
    """How the CLI calls the services: ``PAINFLOW_TOKEN``, else client credentials for
    ``PAINFLOW_CLIENT_ID`` (default ``admin``, the dev realm's operator client)."""
    token = os.environ.get("PAINFLOW_TOKEN")
    if token:
        return StaticBearer(token)
    try:
        return client_credentials(os.environ.get("PAINFLOW_CLIENT_ID", "admin"))
    except TokenError as exc:
        message = f"no token from the identity provider at {issuer()}: {exc}"
        raise click.ClickException(message) from exc
