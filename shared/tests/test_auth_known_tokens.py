"""A bearer token this process verified is taken again without verifying it, until it expires
(``Authenticator.known``): what is remembered, for how long, and what still counts."""

from __future__ import annotations

from typing import Any

import pytest

from painflow_shared.auth.guard import UNRESTRICTED, VERIFIED_FOR_AT_MOST, Authenticator
from painflow_shared.auth.rate_limit import RateLimiter
from painflow_shared.auth.verify import InvalidToken
from painflow_shared.fhir.errors import TooManyRequests, Unauthorized

NOW = 1_800_000_000.0


class Verifier:
    """Counts verifications; ``bad`` is refused as a real verifier would."""

    def __init__(self, **claims: Any) -> None:
        self.claims = {"client_id": "ehr", "sub": "svc", "scope": "system/*.cruds", **claims}
        self.calls = 0

    def verify(self, token: str) -> dict[str, Any]:
        self.calls += 1
        if token == "bad":
            raise InvalidToken("the token's signature does not verify")
        return dict(self.claims)


def _authenticator(verifier: Verifier, clock: list[float], limit: str = "") -> Authenticator:
    return Authenticator(verifier, RateLimiter(limit), clock=lambda: clock[0])  # type: ignore[arg-type]


def test_a_verified_token_is_taken_again_without_verifying_until_it_expires() -> None:
    clock = [NOW]
    verifier = Verifier(exp=NOW + 60)
    auth = _authenticator(verifier, clock)
    assert auth.known("Bearer t1") is None  # never seen: verify it
    principal = auth.principal("Bearer t1")
    assert auth.known("Bearer t1") == principal and auth.known("Bearer t1") == principal
    assert verifier.calls == 1
    assert auth.known("Bearer t2") is None  # another token is another caller
    clock[0] = NOW + 60  # its exp
    assert auth.known("Bearer t1") is None


def test_a_long_lived_token_is_verified_again_after_five_minutes() -> None:
    clock = [NOW]
    auth = _authenticator(Verifier(exp=NOW + 3600), clock)
    auth.principal("Bearer t1")
    clock[0] = NOW + VERIFIED_FOR_AT_MOST - 1
    assert auth.known("Bearer t1") is not None
    clock[0] = NOW + VERIFIED_FOR_AT_MOST
    assert auth.known("Bearer t1") is None


def test_a_refused_token_or_one_without_exp_is_not_remembered() -> None:
    clock = [NOW]
    verifier = Verifier()  # no exp claim
    auth = _authenticator(verifier, clock)
    with pytest.raises(Unauthorized):
        auth.principal("Bearer bad")
    assert auth.known("Bearer bad") is None
    auth.principal("Bearer t1")
    assert auth.known("Bearer t1") is None
    with pytest.raises(Unauthorized):
        auth.known("Basic abc")  # not a bearer token: refused before any look-up


def test_the_rate_limit_counts_every_request_of_a_remembered_token() -> None:
    auth = _authenticator(Verifier(exp=NOW + 60), [NOW], limit="2/minute")
    auth.principal("Bearer t1")
    auth.known("Bearer t1")
    with pytest.raises(TooManyRequests):
        auth.known("Bearer t1")


def test_with_authentication_off_every_caller_is_known() -> None:
    assert Authenticator(None).known(None) is UNRESTRICTED
