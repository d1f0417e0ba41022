"""The request's audit trail: who asked for what, and which resources and patients it touched.

``authorize`` opens one trail per guarded request, before it checks anything, so refusals are
recorded too. The trail is in a context variable, which Starlette's ``run_in_threadpool`` (and
so ``disconnect.run_cancellable``) copies into the worker thread: the unit of work that commits
the request's writes finds it there. It is also kept in the ASGI scope, where the recorder
middleware finds it once the response's status is known. The trail is one mutable object, so
what a worker thread notes on it is seen by the request that opened it.

Event consumers run in their own threads, outside any request: they have no trail, and their
writes are not audited as requests (their commands were, where they came in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from starlette.requests import Request

from painflow_shared.auth.compartment import patients_of
from painflow_shared.fhir.dates import utcnow

if TYPE_CHECKING:
    from painflow_shared.auth.guard import Principal

SCOPE_KEY = "painflow.audit"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII)  # a FHIR id: anything else is not recorded
_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}", re.ASCII)
_current: ContextVar[Trail | None] = ContextVar("painflow_audit_trail", default=None)


@dataclass
class Trail:
    """One guarded request's audit: filled as the request goes, recorded once it is decided."""

    service: str
    observer: str  # the service's FHIR base
    issuer: str
    interaction: str  # http://hl7.org/fhir/restful-interaction
    started: datetime
    address: str | None = None
    trace_id: str | None = None
    principal: Principal | None = None  # None until the token is verified
    exempt: bool = False  # reading the audit itself (see routes.py)
    touched: dict[str, set[str]] = field(default_factory=dict)  # Type/id -> its patients
    committed: bool = False  # a write's commit recorded this request's AuditEvent

    def touch(self, reference: str, patients: Iterable[str] = ()) -> None:
        self.touched.setdefault(reference, set()).update(patients)

    def note(self, resources: Iterable[dict[str, Any]]) -> None:
        """Resources read, returned or refused: their Type/id and patients, never their content."""
        for resource in resources:
            reference = _reference(resource.get("resourceType"), resource.get("id"))
            if reference is not None:
                self.touch(reference, patients_of(resource))


def open_trail(request: Request) -> Trail:
    """The trail of a guarded request (``authorize`` calls this before checking the token)."""
    runtime = request.app.state.runtime
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    trail = Trail(
        service=runtime.settings.service_name,
        observer=runtime.base_url,
        issuer=runtime.settings.auth_issuer,
        interaction=interaction_of(request.method, str(getattr(route, "path", ""))),
        started=utcnow(),
        address=request.client.host if request.client else None,
        trace_id=_trace_id(),
        exempt=bool(getattr(endpoint, "__painflow_audit_exempt__", False)),
    )
    _touch_path(trail, str(getattr(route, "path", "")), request.path_params)
    request.scope[SCOPE_KEY] = trail
    _current.set(trail)
    return trail


def current_trail() -> Trail | None:
    """This request's trail; None outside a request (an event consumer, a script)."""
    return _current.get()


def note_returned(resources: Iterable[dict[str, Any]]) -> None:
    """What a route read or returned (a read, a search's matches and includes)."""
    trail = _current.get()
    if trail is not None:
        trail.note(resources)


def note_touched(reference: str, patients: Iterable[str]) -> None:
    """A resource a view returned without its body (a worklist row): its Type/id and patients."""
    trail = _current.get()
    if trail is not None:
        trail.touch(reference, patients)


def note_bundle(bundle: dict[str, Any]) -> None:
    """A Bundle POSTed to the base is a transaction or a batch: the audit says which."""
    trail = _current.get()
    kind = bundle.get("type")
    if trail is not None and kind in ("transaction", "batch"):
        trail.interaction = str(kind)


def audit_exempt(endpoint: Any) -> Any:
    """Marks a route whose successful reads are not audited (the audit's own routes)."""
    endpoint.__painflow_audit_exempt__ = True
    return endpoint


def interaction_of(method: str, path: str) -> str:
    """The restful-interaction code of a route, from its method and path template."""
    if not path.startswith("/fhir") or "$" in path:
        return "operation"
    segments = [s for s in path.removeprefix("/fhir").split("/") if s]
    if not segments:
        return "transaction" if method == "POST" else "operation"
    if method == "GET":
        if "_history" in segments:
            return "vread" if segments[-1] != "_history" else "history-instance"
        return "read" if len(segments) > 1 else "search-type"
    by_method = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return by_method.get(method, "operation")


def _touch_path(trail: Trail, path: str, params: dict[str, Any]) -> None:
    """What the path names is touched even if the request is refused: ids only.
    ``/fhir/{resource_type}/{resource_id}``, ``/fhir/Task/{task_id}``, ``.../{patient_id}``."""
    segments = [s for s in path.removeprefix("/fhir").split("/") if s]
    if path.startswith("/fhir") and len(segments) > 1:
        resource_type = _value(segments[0], params)
        reference = _reference(resource_type, _value(segments[1], params))
        if reference is not None:
            patients = [reference.split("/")[1]] if resource_type == "Patient" else []
            trail.touch(reference, patients)
    patient = params.get("patient_id")
    if isinstance(patient, str) and _ID.fullmatch(patient):
        trail.touch(f"Patient/{patient}", [patient])


def _value(segment: str, params: dict[str, Any]) -> object:
    """A path template's segment: its literal text, or the value of its ``{parameter}``."""
    if segment.startswith("{") and segment.endswith("}"):
        return params.get(segment[1:-1].partition(":")[0])
    return segment


def _reference(resource_type: object, resource_id: object) -> str | None:
    if not isinstance(resource_type, str) or not isinstance(resource_id, str):
        return None
    if not (_TYPE.fullmatch(resource_type) and _ID.fullmatch(resource_id)):
        return None
    return f"{resource_type}/{resource_id}"


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
