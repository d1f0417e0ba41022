"""Versions on the wire, in one place: ETags, If-Match preconditions, Location and the status
lines of Bundle responses. Pure: the HTTP edge and the Bundle builders both use it."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest, PreconditionFailed
from painflow_shared.fhir.numbers import MAX_INT32, NumberOutOfRange, parse_bounded_int

_ETAG = re.compile(r'^(W/)?"(?P<version>[0-9]+)"$', re.ASCII)


def parse_if_match(value: str | None) -> int | None:
    """``W/"3"`` -> 3. A malformed precondition is a 400, never silently ignored."""
    if value is None:
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise InvalidRequest('If-Match must be an ETag such as W/"3"', expression="If-Match")
    try:
        return parse_bounded_int(match["version"], name="If-Match", maximum=MAX_INT32, minimum=1)
    except NumberOutOfRange as exc:  # a version no resource can have is never the current one
        raise PreconditionFailed("If-Match names a version no resource has") from exc


def version_of(resource: dict[str, Any]) -> str:
    return str((resource.get("meta") or {}).get("versionId", "1"))


def etag(resource: dict[str, Any]) -> str:
    return f'W/"{version_of(resource)}"'


def location(resource: dict[str, Any]) -> str:
    """``Type/id/_history/version``: relative, as a transaction-response entry gives it."""
    return f"{resource['resourceType']}/{resource['id']}/_history/{version_of(resource)}"


def status_line(status: int) -> str:
    """``201`` -> ``"201 Created"``, as Bundle.entry.response.status wants it."""
    return f"{status} {HTTPStatus(status).phrase}"


def resource_headers(resource: dict[str, Any], base: str | None = None) -> dict[str, str]:
    """ETag, Last-Modified and (with ``base``) Location of a stored resource."""
    headers = {"ETag": etag(resource)}
    updated = (resource.get("meta") or {}).get("lastUpdated")
    if updated:
        headers["Last-Modified"] = _http_date(updated)
    if base:
        headers["Location"] = f"{base}/{location(resource)}"
    return headers


def _http_date(instant: str) -> str:
    return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)
