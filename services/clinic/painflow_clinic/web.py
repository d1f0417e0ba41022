"""What every page shares: the signed-in user, the templates, CSRF-checked forms, flash
messages, links to FHIR resources, and when the page's data was read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from painflow_clinic.fhir import Fhir, ServiceError
from painflow_clinic.settings import ClinicSettings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
NAV = (
    ("/triage", "Triage"),
    ("/intake", "Intake"),
    ("/bookings", "Bookings"),
    ("/followups", "Follow-ups"),
)


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    token: str | None
    subject: str | None = None  # the identity provider's ``sub``

    def as_agent(self, settings: ClinicSettings) -> dict[str, Any]:
        """The user as a Provenance agent: the identity provider's user by identifier (no FHIR
        resource names a clinic user), with the name people read."""
        system = settings.auth_issuer or settings.public_url
        return {
            "identifier": {"system": system, "value": self.subject or self.name},
            "display": self.name,
        }


class SignInRequired(Exception):
    """Raised by ``current_user`` when nobody is signed in: the app answers with /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class FormRefused(Exception):
    """A form post without this session's CSRF token."""


def settings_of(request: Request) -> ClinicSettings:
    settings: ClinicSettings = request.app.state.settings
    return settings


async def current_user(request: Request) -> User:
    data = request.session.get("user")
    if not data:
        raise SignInRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return User(
        name=data["name"],
        roles=tuple(data.get("roles") or ()),
        token=data.get("token"),
        subject=data.get("subject"),
    )


UserDep = Annotated[User, Depends(current_user)]


async def fhir_of(request: Request, user: UserDep) -> Fhir:
    return Fhir(request.app.state.http, settings_of(request), user.token)


FhirDep = Annotated[Fhir, Depends(fhir_of)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = str(form.get("csrf") or "")
    if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
        raise FormRefused()
    return {k: str(v) for k, v in form.items()}


FormDep = Annotated[dict[str, str], Depends(form_of)]


def flash(request: Request, kind: str, text: str, issues: list[Any] | None = None) -> None:
    messages = request.session.setdefault("flash", [])
    messages.append(
        {
            "kind": kind,
            "text": text,
            "issues": [
                {"diagnostics": i.diagnostics, "expression": list(i.expression)}
                for i in issues or []
            ],
        }
    )
    request.session["flash"] = messages


def flash_error(request: Request, what: str, error: ServiceError) -> None:
    flash(
        request,
        "error",
        f"{what}: the {error.service} service refused ({error.status})",
        error.issues,
    )


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def render(
    request: Request, template: str, title: str, status_code: int = 200, **context: Any
) -> Response:
    user = request.session.get("user")
    messages = request.session.pop("flash", [])
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "user": user,
            "nav": NAV,
            "flash": messages,
            "csrf": csrf_token(request),
            "read_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "settings": settings_of(request),
            **context,
        },
        status_code=status_code,
    )


def resource_link(service: str, reference: str | None) -> str:
    """The clinic's view of a FHIR resource (read with the user's token): Type/id or a URL."""
    if not reference:
        return ""
    parts = reference.rstrip("/").split("/")
    return f"/resources/{service}/{parts[-2]}/{parts[-1]}" if len(parts) >= 2 else ""


TEMPLATES.env.globals["resource_link"] = resource_link
