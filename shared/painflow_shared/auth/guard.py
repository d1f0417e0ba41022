"""Who is calling and what they may do: one FastAPI dependency on every guarded route.

``authorize`` verifies the bearer token (401 otherwise), then checks the SMART scopes for the
interaction the route performs (403 otherwise). A token this process verified is taken again
without verifying it until it expires (at most five minutes; the rate limit still counts each
request). The interaction is read from the route itself:
``GET /fhir/{type}`` is a search, ``PUT /fhir/{type}/{id}`` an update, and so on; routes that are
not plain FHIR interactions (operations, worklists, journeys) say what they need with
``@requires(...)``. A route that says nothing and cannot be read is refused: nothing is open by
accident.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cachetools import TLRUCache
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from painflow_shared.audit.trail import note_bundle, open_trail
from painflow_shared.auth.compartment import in_compartment, patient_id_of
from painflow_shared.auth.rate_limit import RateLimiter
from painflow_shared.auth.scopes import Grant, Interaction, parse_scopes, permission
from painflow_shared.auth.verify import InvalidToken, IssuerUnavailable, TokenVerifier
from painflow_shared.fhir.errors import Forbidden, ServiceUnavailable, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
Need = tuple[str, Interaction]

# Definitional resources carry no patient data: any trusted token may read them.
CONFORMANCE_TYPES = frozenset(
    {"Questionnaire", "OperationDefinition", "StructureDefinition", "ValueSet", "CodeSystem"}
)
_METHOD_INTERACTIONS = {
    "POST": Interaction.CREATE,
    "PUT": Interaction.UPDATE,
    "PATCH": Interaction.UPDATE,
    "DELETE": Interaction.DELETE,
}


@dataclass(frozen=True)
class Principal:
    """The caller, as its verified token says: ids only, never names."""

    client_id: str
    subject: str
    grants: tuple[Grant, ...]
    patient: str | None = None  # the patient/ scopes' compartment
    token_id: str | None = None
    unrestricted: bool = False  # authentication disabled (development and handler tests only)

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        return self.unrestricted or permission(self.grants, resource_type, interaction).allowed

    def compartment_for(self, resource_type: str, interaction: Interaction) -> str | None:
        """The patient this interaction is limited to, or None when it is not limited."""
        if self.unrestricted:
            return None
        found = permission(self.grants, resource_type, interaction)
        return (self.patient or "") if found.patient_only else None

    def require(self, resource_type: str, interaction: Interaction) -> None:
        if not self.allows(resource_type, interaction):
            raise Forbidden(
                f"the token's scopes do not allow {interaction.name.lower()} of {resource_type}"
            )

    def may_see(self, resource: dict[str, Any]) -> bool:
        """Whether a resource about to be returned is within what this caller may read."""
        resource_type = str(resource.get("resourceType"))
        if not self.allows(resource_type, Interaction.READ):
            return resource_type in CONFORMANCE_TYPES
        patient = self.compartment_for(resource_type, Interaction.READ)
        return patient is None or in_compartment(resource, patient)


UNRESTRICTED = Principal(client_id="-", subject="-", grants=(), unrestricted=True)


# A bearer token this process verified is taken again without verifying it (no thread, no
# signature check) until it expires, and for at most VERIFIED_FOR_AT_MOST seconds: a key the
# issuer withdraws stops working here within that. A client sends its access token with every
# request, so the verification (and the thread it runs in, for the issuer's keys may need a
# fetch) was paid per request. Bounded: the least recently used token is forgotten first.
VERIFIED_TOKENS = 4096
VERIFIED_FOR_AT_MOST = 300.0


def _expires(_token: str, entry: tuple[Principal, float], _now: float) -> float:
    return entry[1]


@dataclass
class Authenticator:
    """Held by the runtime: the verifier, or None when authentication is switched off."""

    verifier: TokenVerifier | None
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(""))
    clock: Callable[[], float] = time.time
    _verified: TLRUCache[str, tuple[Principal, float]] = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._verified = TLRUCache(maxsize=VERIFIED_TOKENS, ttu=_expires, timer=self.clock)

    def known(self, authorization: str | None) -> Principal | None:
        """The caller, when that needs no I/O: authentication is off, or the token is one this
        process verified and it has not expired. None: ``principal`` must verify it."""
        if self.verifier is None:
            return UNRESTRICTED
        token = _bearer(authorization)
        with self._lock:
            entry = self._verified.get(token)
        if entry is None:
            return None
        self.limiter.check(entry[0].client_id)
        return entry[0]

    def principal(self, authorization: str | None) -> Principal:
        if self.verifier is None:
            return UNRESTRICTED
        token = _bearer(authorization)
        try:
            claims = self.verifier.verify(token)
        except InvalidToken as exc:
            raise Unauthorized(str(exc)) from exc
        except IssuerUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        principal = principal_from(claims)
        expires = claims.get("exp")
        if isinstance(expires, int | float):
            with self._lock:  # a past time is not stored
                self._verified[token] = (
                    principal,
                    min(expires, self.clock() + VERIFIED_FOR_AT_MOST),
                )
        self.limiter.check(principal.client_id)
        return principal

    def endpoints(self) -> dict[str, Any] | None:
        """The issuer's discovery document, or None (no issuer, or it does not answer now)."""
        if self.verifier is None:
            return None
        try:
            return self.verifier.discovery().document
        except IssuerUnavailable:
            return None


def principal_from(claims: dict[str, Any]) -> Principal:
    patient = claims.get("patient")
    return Principal(
        client_id=str(claims.get("client_id") or claims.get("azp") or "-"),
        subject=str(claims.get("sub") or "-"),
        grants=parse_scopes(claims.get("scope")),
        patient=(patient_id_of(patient) or patient) if isinstance(patient, str) else None,
        token_id=str(claims["jti"]) if claims.get("jti") else None,
    )


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("a bearer token is required")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 16_384:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


def requires(*needs: tuple[str, str]) -> Callable[[F], F]:
    """What a route that is not a plain FHIR interaction needs, e.g.
    ``@requires(("Appointment", "c"), ("Slot", "u"))``. ``("Patient", "r")`` on a route with a
    ``patient_id`` path parameter also limits a patient/ token to that patient."""

    def mark(endpoint: F) -> F:
        endpoint.__painflow_needs__ = tuple(  # type: ignore[attr-defined]
            (t, Interaction(i)) for t, i in needs
        )
        return endpoint

    return mark


def compartment_aware(endpoint: F) -> F:
    """Marks a read or search route that filters what it returns with ``Principal.may_see``,
    so patient/ tokens may use it."""
    endpoint.__painflow_compartment__ = True  # type: ignore[attr-defined]
    return endpoint


def principal_of(request: Request) -> Principal:
    principal: Principal = getattr(request.state, "principal", UNRESTRICTED)
    return principal


async def authorize(request: Request) -> Principal:
    """The dependency: 401 without a trusted token, 403 without the scopes the route needs."""
    authenticator: Authenticator = request.app.state.runtime.authenticator
    trail = open_trail(request)  # audited from here on, refusals included (painflow_shared.audit)
    header = request.headers.get("authorization")
    principal = authenticator.known(header)  # a token verified before: no thread
    if principal is None:
        principal = await run_in_threadpool(authenticator.principal, header)
    request.state.principal = principal
    trail.principal = principal
    for resource_type, interaction in route_needs(request):
        principal.require(resource_type, interaction)
        _check_compartment(request, principal, resource_type, interaction)
    return principal


def _check_compartment(
    request: Request, principal: Principal, resource_type: str, interaction: Interaction
) -> None:
    patient = principal.compartment_for(resource_type, interaction)
    if patient is None:
        return
    if not patient:
        raise Forbidden("a patient/ scope needs a token with a patient claim")
    if interaction not in (Interaction.READ, Interaction.SEARCH):
        raise Forbidden("patient/ scopes may read and search here, not write")
    asked = request.path_params.get("patient_id")
    if resource_type == "Patient" and asked is not None and asked != patient:
        raise Forbidden("the token is limited to another patient's compartment")
    # reads and searches filter what they return (routes.py); a route not built for that
    # says so by not being a generic read or naming patient_id
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if asked is None and not getattr(endpoint, "__painflow_compartment__", False):
        raise Forbidden("patient/ scopes are limited to reads, searches and the patient's journey")


def route_needs(request: Request) -> tuple[Need, ...]:
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    declared: tuple[Need, ...] | None = getattr(endpoint, "__painflow_needs__", None)
    if declared is not None:
        return declared
    path = str(getattr(route, "path", ""))
    inferred = infer_needs(request.method, path, request.path_params)
    if inferred is None:
        raise Forbidden("this route declares no scope, so no token may use it")
    return inferred


def infer_needs(method: str, path: str, params: dict[str, Any]) -> tuple[Need, ...] | None:
    """The need of a plain FHIR interaction route, from its method and path template.

    ``POST /fhir`` (a Bundle) needs nothing here: each entry is checked by ``check_bundle``."""
    if not path.startswith("/fhir"):
        return None
    segments = [s for s in path.removeprefix("/fhir").split("/") if s]
    if not segments:
        return () if method == "POST" else None
    resource_type = params.get("resource_type", segments[0])
    if any(s.startswith("$") for s in segments):
        return None  # operations declare what they need
    if resource_type in CONFORMANCE_TYPES and method == "GET":
        return ()
    if method == "GET":
        one = len(segments) > 1
        return ((resource_type, Interaction.READ if one else Interaction.SEARCH),)
    interaction = _METHOD_INTERACTIONS.get(method)
    return None if interaction is None else ((resource_type, interaction),)


def check_bundle(principal: Principal, bundle: dict[str, Any]) -> None:
    """A transaction or batch needs the scope of every entry (403 naming the first missing)."""
    note_bundle(bundle)  # the audit's subtype: transaction or batch
    for index, entry in enumerate(bundle.get("entry") or []):
        if not isinstance(entry, dict):
            continue
        for resource_type, interaction in _entry_needs(entry):
            if not principal.allows(resource_type, interaction):
                raise Forbidden(
                    f"the token's scopes do not allow {interaction.name.lower()} of "
                    f"{resource_type} (Bundle.entry[{index}])",
                    expression=f"Bundle.entry[{index}]",
                )
            if principal.compartment_for(resource_type, interaction) is not None:
                raise Forbidden("patient/ scopes may not submit Bundles")


def _entry_needs(entry: dict[str, Any]) -> list[Need]:
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    method = str((request or {}).get("method") or "POST").upper()
    url = str((request or {}).get("url") or "")
    resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
    resource_type = str((resource or {}).get("resourceType") or url.split("?")[0].split("/")[0])
    if method == "GET":
        one = "/" in url.split("?")[0]
        return [(resource_type, Interaction.READ if one else Interaction.SEARCH)]
    interaction = _METHOD_INTERACTIONS.get(method, Interaction.CREATE)
    return [(resource_type, interaction)]


def make_authenticator(
    issuer: str, audiences: tuple[str, ...], *, disabled: bool, rate_limit: str = ""
) -> Authenticator:
    """The service's authenticator; a service must be told where tokens come from, or be told
    explicitly (development only, see settings) that every caller may do everything."""
    if disabled:
        return Authenticator(verifier=None)
    if not issuer:
        raise ValueError(
            "set PAINFLOW_AUTH_ISSUER (the identity provider), or PAINFLOW_AUTH_DISABLED=true "
            "for development without one"
        )
    return Authenticator(verifier=TokenVerifier(issuer, audiences), limiter=RateLimiter(rate_limit))
