"""HTTP details of FHIR REST: reading bodies within their limits (ETags and preconditions are
in versions.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from painflow_shared.fhir.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from painflow_shared.fhir.media import declares_other_charset, is_fhir_json
from painflow_shared.fhir.negotiation import negotiate
from painflow_shared.fhir.parse import read_json
from painflow_shared.fhir.patch import read_json_patch
from painflow_shared.fhir.versions import parse_if_match


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
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(limit: int) -> PayloadTooLarge:
    """The one 413 for a body over the limit, whether declared or counted while streaming."""
    return PayloadTooLarge(f"the body is larger than {limit} bytes")


async def read_patch(request: Request, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A JSON Patch request: its operations (size, media type, strict JSON) and its If-Match."""
    operations = read_json_patch(
        request.headers.get("content-type"), await read_body(request, limit)
    )
    return operations, parse_if_match(request.headers.get("if-match"))
