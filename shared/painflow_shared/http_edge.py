"""Pure ASGI middleware every service wears, outermost first.

``SecurityHeaders`` -> ``RequestMetrics`` -> ``BodyLimit`` -> ``ErrorBoundary`` -> the app.

Pure ASGI rather than ``BaseHTTPMiddleware``: no second task per request, streamed bodies and
disconnects pass straight through, and an unexpected exception ends here as a 500
OperationOutcome instead of being re-raised to uvicorn (Starlette's ``ServerErrorMiddleware``
re-raises after answering, and uvicorn then closes the keep-alive connection under the client).
"""

from __future__ import annotations

import logging
import time

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from painflow_shared.fhir.errors import Issue
from painflow_shared.fhir.http import body_too_large
from painflow_shared.fhir.numbers import declared_over
from painflow_shared.fhir.outcomes import outcome_response
from painflow_shared.observability import ServiceMetrics

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
# Everything may carry patient data except the CapabilityStatement: no cache keeps any of it.
CACHEABLE_PATHS = frozenset({"/fhir/metadata"})


class ErrorBoundary:
    """The last word on an exception: logged once (with the trace id), answered as a 500
    OperationOutcome when nothing was sent yet, and never re-raised to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect as gone:  # nobody is left to answer
            log.info(
                "client disconnected: stopped %s %s%s", scope["method"], scope["path"], _why(gone)
            )
        except Exception as exc:
            # the type only: an exception's text or frames may quote what the client sent
            trace.get_current_span().set_status(Status(StatusCode.ERROR, type(exc).__name__))
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:  # a half-sent response cannot be mended: uvicorn closes it
                response = outcome_response(
                    500, [Issue("internal error; see the trace", "exception")]
                )
                await response(scope, receive, send)


def _why(gone: ClientDisconnect) -> str:
    return f" ({gone})" if str(gone) else ""


class BodyLimit:
    """A declared ``Content-Length`` over the limit is a 413 before anything is read (a streamed
    body is counted by ``fhir.http.read_body``). Every 413 closes the connection: the rest of
    that body is never read, so the connection cannot carry another request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 413:
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        declared = Headers(scope=scope).get("content-length", "")
        if declared_over(declared, self.limit):
            error = body_too_large(self.limit)
            await outcome_response(error.status, error.issues)(scope, receive, closing_send)
            return
        await self.app(scope, receive, closing_send)


class RequestMetrics:
    """Requests and latency per route template (never the raw path: ids would explode it)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # nothing sent at all: the client left (ErrorBoundary answers every error), counted
        # as nginx's 499 "client closed request" so that it never reads as a server error
        status = 499

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, path, str(status)).inc()
            self.metrics.http_latency.labels(method, path).observe(time.perf_counter() - started)


class SecurityHeaders:
    """``nosniff``, no framing, no referrer on every response; ``no-store`` on all but the
    CapabilityStatement. A header the route set itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"] in CACHEABLE_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
