"""Sign-in: OpenID Connect authorization code with PKCE (S256) against the platform's identity
provider, through authlib; and, under PAINFLOW_ENV=dev only, one click per dev user.

The session cookie (signed, httponly, SameSite=Lax) keeps the user's name, realm roles and
access token; the token is what the four services check. The roles only choose what the pages
offer: every decision about access is the services'.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from painflow_clinic.settings import DEV_USERS, ClinicSettings
from painflow_clinic.web import FormDep, back, flash, render, settings_of

router = APIRouter(tags=["sign-in"])


def oauth_client(settings: ClinicSettings) -> Any:
    oauth = OAuth()
    oauth.register(
        name="painflow",
        client_id=settings.client_id,
        server_metadata_url=f"{settings.auth_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scope, "code_challenge_method": "S256"},
    )
    return oauth.painflow


def _safe_next(value: str | None) -> str:
    """Only a path on this app (never another site) after sign-in."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    settings = settings_of(request)
    return render(
        request,
        "login.html",
        "Sign in",
        next=_safe_next(next),
        dev_users=DEV_USERS if settings.is_dev else (),
        has_issuer=bool(settings.auth_issuer),
    )


@router.post("/login")
async def login(request: Request, form: FormDep) -> Response:
    request.session["next"] = _safe_next(form.get("next"))
    client = request.app.state.oauth
    redirect_uri = f"{settings_of(request).public_url}/auth/callback"
    try:
        response: Response = await client.authorize_redirect(request, redirect_uri)
    except (httpx.HTTPError, OAuthError) as error:
        return _unreachable(request, error)
    return response


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    try:
        token = await request.app.state.oauth.authorize_access_token(request)
    except (httpx.HTTPError, OAuthError) as error:
        flash(request, "error", f"Sign-in failed ({type(error).__name__}); please try again")
        return back("/login")
    next_path = _safe_next(request.session.pop("next", "/"))  # _sign_in starts a new session
    _sign_in(request, token)
    return back(next_path)


@router.post("/login/dev/{username}")
async def dev_login(username: str, request: Request, form: FormDep) -> Response:
    """Dev only: the dev user's password is its name, so one click signs in (direct grant)."""
    settings = settings_of(request)
    if not settings.is_dev or username not in DEV_USERS:
        return Response("dev sign-in is refused outside PAINFLOW_ENV=dev", status_code=403)
    next_path = _safe_next(form.get("next"))
    if not settings.auth_issuer:  # dev without an identity provider: the services take no token
        request.session["user"] = {"name": username, "roles": [username], "token": None}
        return back(next_path)
    try:
        token = await _password_grant(request, settings, username)
    except (httpx.HTTPError, OAuthError, KeyError) as error:
        return _unreachable(request, error)
    _sign_in(request, token)
    return back(next_path)


@router.post("/logout")
async def logout(request: Request, form: FormDep) -> Response:
    request.session.clear()
    return back("/login")


async def _password_grant(request: Request, settings: ClinicSettings, username: str) -> Any:
    metadata = await request.app.state.oauth.load_server_metadata()
    response = await request.app.state.http.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "password",
            "client_id": settings.client_id,
            "username": username,
            "password": username,
            "scope": settings.scope,
        },
    )
    if response.status_code != 200:
        raise OAuthError(error=f"direct grant refused ({response.status_code})")
    return response.json()


def _sign_in(request: Request, token: dict[str, Any]) -> None:
    claims = _claims(token["access_token"])
    request.session.clear()
    request.session["user"] = {
        "name": claims.get("preferred_username") or claims.get("sub") or "user",
        "roles": sorted((claims.get("realm_access") or {}).get("roles") or []),
        "token": token["access_token"],
        "subject": claims.get("sub"),  # who the identity provider says signed in (Provenance)
    }


def _claims(jwt: str) -> dict[str, Any]:
    """The token's claims for display and navigation only (the services verify it)."""
    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _unreachable(request: Request, error: Exception) -> Response:
    settings = settings_of(request)
    flash(
        request,
        "error",
        f"The identity provider at {settings.auth_issuer} did not answer as expected "
        f"({type(error).__name__}). Is it running (bash deploy/keycloak/keycloak.sh start)?",
    )
    return back("/login")


def redirect_to_login(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={_safe_next(next_path)}", status_code=303)
