"""HTTP details of FHIR REST: reading bodies, ETags, preconditions, response headers."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Request

from painflow_shared.fhir.errors import (
    InvalidRequest,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
)
from painflow_shared.fhir.media import declares_other_charset, is_fhir_json
from painflow_shared.fhir.negotiation import negotiate
from painflow_shared.fhir.numbers import MAX_INT32, NumberOutOfRange, parse_bounded_int
from painflow_shared.fhir.parse import read_json

_ETAG = re.compile(r'^(W/)?"(?P<version>[0-9]+)"$', re.ASCII)


async def read_fhir_body(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, after the format, media type, charset and size checks
    (406, 415, 400, 413), then strict JSON (400)."""
    negotiate(request)
    content_type = request.headers.get("content-type")
    if not is_fhir_json(content_type):
        raise UnsupportedMediaType(
            "send FHIR JSON: Content-Type: application/fhir+json (XML is not supported)"
        )
    if declares_other_charset(content_type):
        raise InvalidRequest("FHIR JSON is UTF-8: the Content-Type charset must be utf-8")
    raw = await read_body(request, limit)
    if not raw:
        raise InvalidRequest("the body is empty")
    return read_json(raw)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; a 413 as soon as more than ``limit`` bytes arrived, also when it came
    chunked without a length: counted while streaming, so an oversized body is never held."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
