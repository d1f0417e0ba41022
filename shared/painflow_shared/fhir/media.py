"""The FHIR JSON media type, in and out."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

FHIR_JSON = "application/fhir+json"
ACCEPTED_CONTENT_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
UTF8_NAMES = frozenset({"utf-8", "utf8"})


def fhir_response(
    body: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    pretty: bool = False,
) -> Response:
    content = (
        json.dumps(body, indent=2, ensure_ascii=False)
        if pretty
        else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    )
    return Response(
        content=content,
        status_code=status_code,
        media_type=f"{FHIR_JSON}; charset=utf-8",
        headers=headers,
    )


def is_fhir_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() in ACCEPTED_CONTENT_TYPES


def declares_other_charset(content_type: str | None) -> bool:
    """True when a Content-Type names a charset other than UTF-8 (FHIR JSON is UTF-8 only)."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() not in UTF8_NAMES
    return False
