"""HTTP details of FHIR REST: reading bodies, ETags, preconditions, response headers."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Request

from painflow_shared.fhir.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from painflow_shared.fhir.media import is_fhir_json
from painflow_shared.fhir.parse import read_json

_ETAG = re.compile(r'^(W/)?"(?P<version>\d+)"$')


async def read_fhir_body(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, after the media type and size checks (415, 413, 400)."""
    if not is_fhir_json(request.headers.get("content-type")):
        raise UnsupportedMediaType(
            "send FHIR JSON: Content-Type: application/fhir+json (XML is not supported)"
        )
    raw = await read_body(request, limit)
    if not raw:
        raise InvalidRequest("the body is empty")
    return read_json(raw)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; a 413 past ``limit``, also when it came chunked, without a length."""
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return raw


def parse_if_match(value: str | None) -> int | None:
    """``W/"3"`` -> 3. A malformed precondition is a 400, never silently ignored."""
    if value is None:
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise InvalidRequest('If-Match must be an ETag such as W/"3"', expression="If-Match")
    return int(match["version"])


def resource_headers(resource: dict[str, Any], base: str | None = None) -> dict[str, str]:
    """ETag, Last-Modified and (with ``base``) Location of a stored resource."""
    meta = resource.get("meta") or {}
    headers = {"ETag": f'W/"{meta.get("versionId", "1")}"'}
    if meta.get("lastUpdated"):
        headers["Last-Modified"] = _http_date(meta["lastUpdated"])
    if base:
        version = meta.get("versionId", "1")
        headers["Location"] = (
            f"{base}/{resource['resourceType']}/{resource['id']}/_history/{version}"
        )
    return headers


def _http_date(instant: str) -> str:
    return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)
