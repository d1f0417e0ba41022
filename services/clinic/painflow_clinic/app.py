"""The clinic web app: server-rendered pages over the four services' FHIR APIs.

``create_app(settings)`` wires the session (signed cookie), sign-in, the pages and the static
stylesheet; it owns no data and no database. Run with ``python -m painflow_clinic``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from painflow_clinic import auth
from painflow_clinic.fhir import ServiceError
from painflow_clinic.pages import bookings, followups, intake, patients, triage
from painflow_clinic.settings import ClinicSettings
from painflow_clinic.web import FormRefused, SignInRequired, UserDep, render

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    # no script at all: the pages are HTML forms and server-drawn SVG
    "content-security-policy": "default-src 'self'; script-src 'none'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self' http: https:",
}


def create_app(settings: ClinicSettings | None = None) -> FastAPI:
    settings = settings or ClinicSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.request_timeout_seconds) as http:
            app.state.http = http
            yield

    app = FastAPI(
        title="Painflow clinic", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.oauth = auth.oauth_client(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie="painflow_clinic",
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
        max_age=8 * 3600,
    )
    app.middleware("http")(_security_headers)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (
        auth.router,
        triage.router,
        intake.router,
        bookings.router,
        followups.router,
        patients.router,
    ):
        app.include_router(router)
    _routes(app)
    _handlers(app)
    return app


async def _security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _routes(app: FastAPI) -> None:
    @app.get("/")
    def home(request: Request, user: UserDep) -> Response:
        return render(request, "home.html", "Painflow clinic")

    @app.get("/health/live")
    @app.get("/health/ready")  # nothing of its own to wait for: the services report theirs
    def live() -> dict[str, str]:
        return {"status": "pass"}


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(FormRefused)
    async def refused(request: Request, error: FormRefused) -> Response:
        return Response("the form expired: reload the page and try again", status_code=403)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        if error.status == 401:  # the token expired or was refused: sign in again
            request.session.pop("user", None)
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        status = error.status if error.status in (403, 404) else 502
        return render(
            request, "error.html", "The platform refused", error=error, status_code=status
        )
