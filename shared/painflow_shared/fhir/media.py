"""The FHIR JSON media type, in and out."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

FHIR_JSON = "application/fhir+json"
ACCEPTED_CONTENT_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})


def fhir_response(
    body: dict[str, Any], *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status_code,
        media_type=f"{FHIR_JSON}; charset=utf-8",
        headers=headers,
    )


def is_fhir_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() in ACCEPTED_CONTENT_TYPES
