"""The token client against the real local identity provider (Keycloak, realm painflow): what a
protected server receives from it, over real HTTP on loopback.

A small FastAPI app stands in for a protected FHIR server: it records every Authorization
header and answers 401 as often as a test tells it to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from painflow_shared.auth.client import ClientCredentials, SigningKey, TokenError, discover
from painflow_shared.testing.identity import Identity
from painflow_shared.testing.servers import RunningServer, free_port, start_server

pytestmark = pytest.mark.integration


@dataclass
class Recorder:
    unauthorized: int = 0  # how many of the next requests get a 401
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def protected() -> Iterator[tuple[RunningServer, Recorder]]:
    recorder = Recorder()
    app = FastAPI()

    @app.get("/fhir/Patient")
    def patients(request: Request) -> Response:
        recorder.seen.append(request.headers.get("authorization", ""))
        if recorder.unauthorized > 0:
            recorder.unauthorized -= 1
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse({"resourceType": "Bundle", "type": "searchset"})

    @app.get("/.well-known/smart-configuration")
    def smart() -> Response:
        return JSONResponse({"token_endpoint": "http://127.0.0.1:1/token", "capabilities": []})

    server = start_server(app, free_port())
    yield server, recorder
    server.stop()


def claims(token: str, identity: Identity) -> dict[str, Any]:
    """Verified against the realm's published keys, as a service would."""
    jwks = jwt.PyJWKClient(discover(identity.issuer)["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["RS256"], audience="painflow", issuer=identity.issuer)


def test_a_secret_client_gets_a_signed_token_with_its_scopes(identity: Identity) -> None:
    auth = ClientCredentials(identity.token_url, "ehr", secret="ehr-dev-secret")
    token = claims(auth.access_token(), identity)
    assert token["azp"] == "ehr"
    assert {"system/ServiceRequest.cu", "system/Task.rs"} <= set(token["scope"].split())


def test_private_key_jwt_signs_in_without_a_secret(identity: Identity) -> None:
    pem = (identity.keys_dir / "scheduler-jwt.pem").read_bytes()
    auth = ClientCredentials(identity.token_url, "scheduler-jwt", private_key_pem=pem)
    token = claims(auth.access_token(), identity)
    assert token["azp"] == "scheduler-jwt"
    assert "system/Appointment.crus" in token["scope"].split()


def test_a_key_the_realm_does_not_know_is_refused(identity: Identity) -> None:
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    auth = ClientCredentials(identity.token_url, "ehr-jwt", private_key_pem=other)
    with pytest.raises(TokenError, match=r"answered 40\d .* for client ehr-jwt"):
        auth.access_token()


def test_a_wrong_secret_is_refused_without_echoing_it(identity: Identity) -> None:
    auth = ClientCredentials(identity.token_url, "ehr", secret="not-the-secret")
    with pytest.raises(TokenError) as refused:
        auth.access_token()
    assert "answered 401" in str(refused.value) and "client ehr" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


def test_the_token_is_cached_between_requests(
    identity: Identity, protected: tuple[RunningServer, Recorder]
) -> None:
    server, recorder = protected
    auth = ClientCredentials(identity.token_url, "dashboard", secret="dashboard-dev-secret")
    with httpx.Client(base_url=server.url, auth=auth) as http:
        assert http.get("/fhir/Patient").status_code == 200
        assert http.get("/fhir/Patient").status_code == 200
    assert len(recorder.seen) == 2 and recorder.seen[0] == recorder.seen[1]
    assert recorder.seen[0].startswith("Bearer ey")


def test_a_401_fetches_a_new_token_and_retries_once(
    identity: Identity, protected: tuple[RunningServer, Recorder]
) -> None:
    server, recorder = protected
    auth = ClientCredentials(identity.token_url, "dashboard", secret="dashboard-dev-secret")
    recorder.unauthorized = 1
    with httpx.Client(base_url=server.url, auth=auth) as http:
        assert http.get("/fhir/Patient").status_code == 200
    first, second = recorder.seen
    assert first != second  # a new token, not the refused one again

    recorder.seen.clear()
    recorder.unauthorized = 5
    with httpx.Client(base_url=server.url, auth=auth) as http:
        assert http.get("/fhir/Patient").status_code == 401
    assert len(recorder.seen) == 2  # once more, then the 401 is the caller's


def test_async_clients_get_the_token_too(
    identity: Identity, protected: tuple[RunningServer, Recorder]
) -> None:
    server, recorder = protected
    pem = (identity.keys_dir / "admin-jwt.pem").read_bytes()
    auth = ClientCredentials(identity.token_url, "admin-jwt", private_key_pem=pem)
    recorder.unauthorized = 1

    async def search() -> int:
        async with httpx.AsyncClient(base_url=server.url, auth=auth) as http:
            return (await http.get("/fhir/Patient")).status_code

    assert asyncio.run(search()) == 200
    assert len(recorder.seen) == 2
    assert claims(recorder.seen[1].removeprefix("Bearer "), identity)["azp"] == "admin-jwt"


def test_discover_prefers_smart_configuration_and_falls_back_to_openid(
    identity: Identity, protected: tuple[RunningServer, Recorder]
) -> None:
    server, _ = protected
    assert discover(server.url)["token_endpoint"] == "http://127.0.0.1:1/token"
    keycloak = discover(identity.issuer + "/")  # Keycloak serves only openid-configuration
    assert keycloak["issuer"] == identity.issuer
    assert keycloak["token_endpoint"] == identity.token_url


def test_discover_names_an_issuer_that_does_not_answer() -> None:
    with pytest.raises(TokenError, match="cannot be reached"):
        discover(f"http://127.0.0.1:{free_port()}/realms/nowhere")


def test_the_key_id_is_the_one_the_realm_registered(identity: Identity) -> None:
    registered = json.loads((identity.keys_dir / "ehr-jwt.jwks.json").read_text())["keys"][0]
    key = SigningKey.from_pem((identity.keys_dir / "ehr-jwt.pem").read_bytes())
    assert (key.algorithm, key.kid) == ("RS384", registered["kid"])
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert SigningKey.from_pem(p384).algorithm == "ES384"
