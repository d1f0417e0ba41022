"""The calling side of SMART Backend Services: get an access token with client credentials and
attach it to every request, as an ``httpx.Auth`` for sync and async clients alike.

A confidential client authenticates with a secret (``client_secret_basic``: local use) or, as
SMART Backend Services asks, with a signed JWT assertion (``private_key_jwt``, RS384 for RSA
keys, ES384 for P-384 keys; PyJWT signs). The token is cached until shortly before it expires;
a 401 answer drops it and the request is sent once more with a new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds: SMART Backend Services allows at most five minutes
REFRESH_MARGIN = 30  # seconds before expiry when a cached token is no longer handed out
TIMEOUT = httpx.Timeout(10.0)


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the key's required members, sorted, without whitespace."""
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")
    )


class TokenError(Exception):
    """The token endpoint refused the client or could not be reached."""


def discover(
    issuer: str, http: httpx.Client | None = None, *, need: str = "token_endpoint"
) -> dict[str, Any]:
    """The issuer's discovery document: ``{issuer}/.well-known/smart-configuration``, or its
    ``openid-configuration`` when it publishes no SMART one (Keycloak does not), holding ``need``
    (the token endpoint for a client; the services ask for ``jwks_uri``)."""
    base = issuer.rstrip("/")
    client = http or httpx.Client(timeout=TIMEOUT)
    try:
        for name in ("smart-configuration", "openid-configuration"):
            try:
                response = client.get(f"{base}/.well-known/{name}")
            except httpx.HTTPError as error:
                raise TokenError(f"the issuer {base} cannot be reached: {error!r}") from error
            if response.status_code == 200:
                document = response.json()
                if isinstance(document, dict) and document.get(need):
                    return document
        raise TokenError(f"the issuer {base} publishes no discovery document with a {need}")
    finally:
        if http is None:
            client.close()


@dataclass(frozen=True)
class SigningKey:
    """A private key for client assertions, with its algorithm and key id (RFC 7638 thumbprint
    unless given: what deploy/keycloak/render_realm.py registers)."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str
    kid: str

    @classmethod
    def from_pem(cls, pem: str | bytes, kid: str | None = None) -> SigningKey:
        key = load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            return cls(key, "RS384", kid or jwk_thumbprint(jwk))
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
            jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            return cls(key, "ES384", kid or jwk_thumbprint(jwk))
        raise ValueError("a client assertion key must be RSA or EC P-384 (SMART: RS384/ES384)")


@dataclass
class _Cached:
    token: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


class ClientCredentials(httpx.Auth):
    """``Authorization: Bearer`` from the client credentials grant (RFC 6749 section 4.4)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        secret: str | None = None,
        private_key_pem: str | bytes | None = None,
        scope: str | None = None,
        *,
        key_id: str | None = None,
    ) -> None:
        if (secret is None) == (private_key_pem is None):
            raise ValueError("give exactly one of secret and private_key_pem")
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self._secret = secret
        self._key = SigningKey.from_pem(private_key_pem, key_id) if private_key_pem else None
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ httpx.Auth

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        response = yield request
        if response.status_code == 401:
            self.invalidate()
            request.headers["Authorization"] = f"Bearer {self.access_token()}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.async_access_token()}"
        response = yield request
        if response.status_code == 401:
            self.invalidate()
            request.headers["Authorization"] = f"Bearer {await self.async_access_token()}"
            yield request

    # ------------------------------------------------------------------ tokens

    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one from the token endpoint."""
        with self._lock:  # one fetch at a time: concurrent callers share its result
            cached = self._fresh()
            if cached is None:
                with httpx.Client(timeout=TIMEOUT) as http:
                    cached = self._store(self._send(http.post(**self._token_request())))
            return cached

    async def async_access_token(self) -> str:
        cached = self._fresh()
        if cached is None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                cached = self._store(self._send(await http.post(**self._token_request())))
        return cached

    def invalidate(self) -> None:
        self._cached = None

    def _fresh(self) -> str | None:
        cached = self._cached
        return cached.token if cached and time.monotonic() < cached.refresh_at else None

    def _token_request(self) -> dict[str, Any]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if self._key is not None:
            form |= {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self._assertion()}
        else:  # RFC 6749 2.3.1: id and secret are form-encoded before the Basic encoding
            pair = f"{quote(self.client_id, safe='')}:{quote(self._secret or '', safe='')}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        return {"url": self.token_url, "data": form, "headers": headers}

    def _assertion(self) -> str:
        assert self._key is not None
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "jti": str(uuid.uuid4()),  # single use: the server refuses a replayed assertion
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(claims, self._key.key, algorithm=self._key.algorithm, headers=headers)

    def _send(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            reason = body.get("error", "no access_token") if isinstance(body, dict) else "?"
            raise TokenError(
                f"the token endpoint answered {response.status_code} ({reason}) "
                f"for client {self.client_id}"
            )
        return body

    def _store(self, body: dict[str, Any]) -> str:
        lifetime = float(body.get("expires_in") or 60)
        margin = min(REFRESH_MARGIN, lifetime / 2)
        self._cached = _Cached(body["access_token"], time.monotonic() + lifetime - margin)
        return self._cached.token
