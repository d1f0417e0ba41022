"""Signing keys and tokens made by tests: a key the issuer publishes (registered in Keycloak by
``testing.identity``) lets a test mint expired, wrong-audience or patient-limited tokens that are
otherwise genuine; a key nobody publishes makes a forged one."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class Signer:
    kid: str = field(default_factory=lambda: f"painflow-test-{uuid.uuid4().hex[:12]}")
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def private_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def mint(
        self,
        *,
        issuer: str,
        audience: str | list[str],
        scope: str,
        lifetime: int = 300,
        not_before: int | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A token with these claims; ``lifetime`` may be negative (already expired)."""
        now = int(time.time())
        body = {
            "iss": issuer,
            "aud": audience,
            "scope": scope,
            "iat": now,
            "nbf": now if not_before is None else not_before,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "azp": claims.pop("azp", "test-client"),
            "sub": claims.pop("sub", "test-subject"),
            **claims,
        }
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": kid or self.kid})
