"""Token verification over real HTTP against a JWKS this test publishes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from painflow_shared.auth.verify import InvalidToken, IssuerUnavailable, TokenVerifier
from painflow_shared.testing.tokens import Signer


class _Issuer:
    def __init__(self) -> None:
        self.signer = Signer()
        self.keys = [self.signer.public_jwk()]
        self.jwks_requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path.endswith("/jwks"):
                    issuer.jwks_requests += 1
                    body = {"keys": issuer.keys}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, **kwargs: object) -> str:
        defaults: dict[str, object] = {"issuer": self.url, "audience": "painflow", "scope": "x"}
        return self.signer.mint(**{**defaults, **kwargs})  # type: ignore[arg-type]


@pytest.fixture
def issuer() -> Iterator[_Issuer]:
    running = _Issuer()
    yield running
    running.server.shutdown()


def _verifier(issuer: _Issuer) -> TokenVerifier:
    return TokenVerifier(
        issuer.url, ("painflow", "http://127.0.0.1:8001/fhir"), refresh_interval=60
    )


def test_a_genuine_token_verifies(issuer):
    claims = _verifier(issuer).verify(issuer.token(scope="system/Patient.rs"))
    assert claims["scope"] == "system/Patient.rs"


def test_the_service_base_url_is_an_audience_too(issuer):
    _verifier(issuer).verify(issuer.token(audience=["other", "http://127.0.0.1:8001/fhir"]))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lifetime": -120}, "expired"),
        ({"not_before": 4_000_000_000}, "not valid yet"),
        ({"audience": "someone-else"}, "aud"),
        ({"issuer": "http://127.0.0.1:1/realms/other"}, "issuer"),
    ],
)
def test_tokens_that_are_refused(issuer, change, reason):
    with pytest.raises(InvalidToken, match=reason):
        _verifier(issuer).verify(issuer.token(**change))


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(issuer):
    forged = Signer(kid=issuer.signer.kid).mint(issuer=issuer.url, audience="painflow", scope="x")
    with pytest.raises(InvalidToken, match="signature"):
        _verifier(issuer).verify(forged)


def test_hs256_and_none_are_refused(issuer):
    import jwt

    claims = {"iss": issuer.url, "aud": "painflow", "exp": 4_000_000_000}
    hs = jwt.encode(claims, "s" * 40, algorithm="HS256", headers={"kid": issuer.signer.kid})
    none = jwt.encode(claims, None, algorithm="none")
    for token in (hs, none, "not-a-jwt"):
        with pytest.raises(InvalidToken):
            _verifier(issuer).verify(token)


def test_a_new_key_is_fetched_once_then_cached(issuer):
    verifier = _verifier(issuer)
    verifier.verify(issuer.token())
    rotated = Signer()
    issuer.keys.append(rotated.public_jwk())
    verifier._fetched_at -= 61  # the refresh interval has passed
    verifier.verify(rotated.mint(issuer=issuer.url, audience="painflow", scope="x"))
    assert issuer.jwks_requests == 2
    for _ in range(5):  # unknown kids inside the interval do not reach the issuer
        with pytest.raises(InvalidToken, match="does not publish"):
            verifier.verify(issuer.token(kid="made-up"))
    assert issuer.jwks_requests == 2


def test_an_issuer_that_does_not_answer_is_unavailable_not_invalid():
    verifier = TokenVerifier("http://127.0.0.1:9/realms/none", ("painflow",))
    signer = Signer()
    with pytest.raises(IssuerUnavailable):
        verifier.verify(
            signer.mint(issuer="http://127.0.0.1:9/realms/none", audience="painflow", scope="x")
        )
