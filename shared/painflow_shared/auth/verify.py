"""Bearer token verification against the issuer's published keys (PyJWT does the cryptography).

The issuer is discovered once from ``/.well-known/smart-configuration`` (falling back to
``openid-configuration``); its JWKS is cached, and fetched again when a token names a key id we
do not know (a key rotation), at most once per ``refresh_interval`` so a flood of made-up key
ids cannot turn into a flood of requests to the identity provider.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from painflow_shared.auth.client import TokenError, discover

log = logging.getLogger(__name__)

# Asymmetric only: never "none", never HS* (a shared secret would let any verifier mint tokens).
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384")
LEEWAY_SECONDS = 30  # clock skew allowed on exp/nbf/iat


class InvalidToken(Exception):
    """The token cannot be trusted: the client gets a 401 saying so (never why in detail)."""


class IssuerUnavailable(Exception):
    """The identity provider's discovery or keys could not be fetched: a 503, retry later."""


@dataclass
class Discovery:
    issuer: str
    document: dict[str, Any]

    @property
    def jwks_uri(self) -> str:
        return str(self.document["jwks_uri"])

    @property
    def token_endpoint(self) -> str | None:
        value = self.document.get("token_endpoint")
        return str(value) if value else None


def fetch_discovery(issuer: str, http: httpx.Client) -> Discovery:
    try:
        document = discover(issuer, http, need="jwks_uri")
    except (TokenError, ValueError) as exc:
        raise IssuerUnavailable(f"the identity provider at {issuer} cannot be read") from exc
    return Discovery(issuer=issuer.rstrip("/"), document=document)


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audiences: tuple[str, ...],
        *,
        http: httpx.Client | None = None,
        refresh_interval: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audiences = tuple(a for a in audiences if a)
        self._http = http or httpx.Client(timeout=5.0)
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._discovery: Discovery | None = None
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0

    def discovery(self) -> Discovery:
        with self._lock:
            if self._discovery is None:
                self._discovery = fetch_discovery(self.issuer, self._http)
            return self._discovery

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidToken. Checks signature, iss, aud, exp and nbf."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("the token's algorithm is not accepted")
        key = self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=list(self.audiences),
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from exc
        return claims

    def _key_for(self, kid: object) -> PyJWK:
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key (kid)")
        key = self._keys.get(kid)
        if key is None and self._may_refresh():
            self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed with a key the issuer does not publish")
        return key

    def _may_refresh(self) -> bool:
        return not self._keys or time.monotonic() - self._fetched_at >= self._refresh_interval

    def _refresh(self) -> None:
        uri = self.discovery().jwks_uri
        with self._lock:
            try:
                response = self._http.get(uri)
                response.raise_for_status()
                keys = PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                raise IssuerUnavailable("the identity provider's keys could not be read") from exc
            self._keys = {k.key_id: k for k in keys.keys if k.key_id}
            self._fetched_at = time.monotonic()
            log.info("read %d signing keys from the identity provider", len(self._keys))


def _reason(exc: jwt.PyJWTError) -> str:
    """What was wrong, in words a client can act on (nothing from the token itself)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is not meant for this service (aud)"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not verify"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return "the token lacks a required claim"
    return "the token is not valid"
