"""Content negotiation for FHIR REST: ``_format``, ``Accept``, ``_pretty`` and ``Prefer``.

Only JSON is served. A ``_format`` or an ``Accept`` header that allows nothing we can send
(XML, Turtle, HTML) is a 406, as a FHIR server must answer, rather than JSON the client did
not ask for. ``_format`` wins over ``Accept`` (FHIR http.html#mime-type).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from painflow_shared.fhir.errors import InvalidRequest, NotAcceptable

JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
_ACCEPTABLE_RANGES = JSON_FORMATS | {"*/*", "application/*"}


def check_acceptable(formats: Iterable[str], accept: str | None) -> None:
    """A 406 unless the response (FHIR JSON) is what ``_format`` or ``Accept`` asks for."""
    formats = list(formats)
    if formats:
        for value in formats:
            if _media_type(value) not in JSON_FORMATS:
                raise NotAcceptable(
                    "_format: only JSON is served (json, application/fhir+json)",
                    expression="_format",
                )
        return
    if accept and accept.strip() and not _accepts_json(accept):
        raise NotAcceptable("Accept: only application/fhir+json (or application/json) is served")


def negotiate(request: Request) -> None:
    """Refuse, before any work, a request for a format we cannot send."""
    check_acceptable(request.query_params.getlist("_format"), request.headers.get("accept"))


async def negotiated(request: Request) -> None:
    """``negotiate`` as a route dependency. Async, as every dependency that does no I/O here:
    FastAPI runs a plain ``def`` dependency in its thread pool, a hand-off per request."""
    negotiate(request)


def wants_pretty(values: Iterable[str]) -> bool:
    """``_pretty=true`` indents the JSON; only true and false are values."""
    pretty = False
    for value in values:
        if value not in {"true", "false"}:
            raise InvalidRequest("_pretty must be true or false", expression="_pretty")
        pretty = value == "true"
    return pretty


def prefers_lenient(prefer: str | None) -> bool:
    """``Prefer: handling=lenient``: ignore unknown search parameters instead of a 400."""
    items = (prefer or "").replace(";", ",").split(",")
    return "handling=lenient" in (item.strip().lower() for item in items)


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def _accepts_json(accept: str) -> bool:
    for media_range in accept.split(","):
        kind, *parameters = media_range.split(";")
        if _media_type(kind) in _ACCEPTABLE_RANGES and _quality(parameters) > 0:
            return True
    return False


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0
