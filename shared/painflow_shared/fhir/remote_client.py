"""GET a resource from a trusted remote FHIR server, safely (the policy is remote_policy.py).

- Nothing is sent unless the policy allows the URL and every address its host resolves to.
- The connection goes to those checked addresses only (no second DNS look-up between the
  check and the connect, so a DNS answer that changes cannot redirect us: DNS rebinding).
- Redirects are not followed, environment proxies are not used, and the response body is
  read as a stream and abandoned past a byte limit (after content decoding, so a compressed
  bomb is bounded too).
- Retriable answers (429, 502, 503, 504) and connection errors are retried with backoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from painflow_shared.fhir.errors import UpstreamUnavailable
from painflow_shared.fhir.media import FHIR_JSON
from painflow_shared.fhir.numbers import declared_over
from painflow_shared.fhir.remote_policy import IPAddress, RemotePolicy, split_url

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class PinnedBackend(httpcore.SyncBackend):
    """Connects to one host only, and only to the addresses checked for it."""

    def __init__(self, host: str, addresses: list[IPAddress]) -> None:
        self.host, self.addresses = host, addresses

    def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        if host.strip("[]").lower() != self.host:
            raise httpcore.ConnectError("refusing a connection to a host that was not checked")
        last: Exception = httpcore.ConnectError("no address to connect to")
        for address in self.addresses:
            try:
                return super().connect_tcp(str(address), port, *args, **kwargs)
            except httpcore.ConnectError as exc:
                last = exc
        raise last


def pinned_client(url: str, addresses: list[IPAddress], timeout: float) -> httpx.Client:
    transport = httpx.HTTPTransport(retries=0)
    # httpx takes no network backend; its pool is swapped for one that connects only to the
    # checked addresses (TLS still verifies, and sends SNI for, the URL's host name).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=PinnedBackend(split_url(url)[0].host, addresses),
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"accept": FHIR_JSON},
    )


@dataclass(frozen=True)
class RemoteAnswer:
    status: int
    body: bytes


@dataclass(frozen=True)
class RemoteFhirClient:
    policy: RemotePolicy
    max_bytes: int
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.3

    def get(self, url: str) -> RemoteAnswer:
        """RemoteRefused before anything is sent; UpstreamUnavailable when it cannot answer."""
        try:
            addresses = self.policy.allowed_addresses(url)
        except OSError as exc:
            raise UpstreamUnavailable(
                "the trusted FHIR server's host name does not resolve"
            ) from exc
        with pinned_client(url, addresses, self.timeout_seconds) as client:
            return self._with_retries(client, url)

    def _with_retries(self, client: httpx.Client, url: str) -> RemoteAnswer:
        last_error = "no attempt"
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self._get_once(client, url)
                if answer.status not in RETRYABLE_STATUS:
                    return answer
                last_error = f"HTTP {answer.status}"
            except httpx.HTTPError as exc:
                last_error = type(exc).__name__
            log.warning(
                "fetching a referenced resource failed (attempt %d/%d): %s",
                attempt,
                self.attempts,
                last_error,
            )
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise UpstreamUnavailable(
            f"the sender's FHIR server is unreachable ({last_error}) after {self.attempts} attempts"
        )

    def _get_once(self, client: httpx.Client, url: str) -> RemoteAnswer:
        with client.stream("GET", url) as response:
            if response.is_redirect:
                raise UpstreamUnavailable(
                    f"the sender's FHIR server answered a redirect ({response.status_code}); "
                    "redirects are not followed: trust the base it moved to instead"
                )
            if response.status_code != 200:
                return RemoteAnswer(response.status_code, b"")
            return RemoteAnswer(200, self._read_bounded(response))

    def _read_bounded(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared_over(declared, self.max_bytes):
            raise self._too_large()
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_large()
        return bytes(body)

    def _too_large(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            f"the sender's FHIR server sent more than {self.max_bytes} bytes; the rest was not read"
        )
