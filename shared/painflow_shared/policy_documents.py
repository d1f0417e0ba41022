"""``GET /policies`` and ``GET /policies/{name}``: the clinical policy documents a service runs
with, as it loaded them (a site's own file where its settings name one, else the shipped one).

Open to read, as the CapabilityStatement is: thresholds, their sources and what is uncertain,
never patient data. The clinic draws its chart lines from them instead of keeping copies, so a
site that edits a policy sees the change in the service's decisions and in the charts alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response

from painflow_shared import json_codec
from painflow_shared.fhir.errors import NotFound

CACHE = {"cache-control": "max-age=300"}  # a policy changes with a deployment, not per request


def policies_router(documents: Mapping[str, Path]) -> APIRouter:
    """Each document read once, here: what the service loaded at start is what it serves."""
    loaded = {name: json_codec.loads(path.read_bytes()) for name, path in documents.items()}
    bodies = {name: json_codec.dumps_bytes(document) for name, document in loaded.items()}
    index = {"policies": [_entry(name, document) for name, document in loaded.items()]}
    router = APIRouter(prefix="/policies", tags=["policies"])

    @router.get("")
    async def listing() -> Response:
        return Response(json_codec.dumps(index), media_type="application/json", headers=CACHE)

    @router.get("/{name}")
    async def document(name: str) -> Response:
        if name not in bodies:
            raise NotFound(f"no policy named {name!r} here: GET /policies lists them")
        return Response(bodies[name], media_type="application/json", headers=CACHE)

    return router


def _entry(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "policy": document.get("policy"),
        "version": document.get("version"),
        "href": f"/policies/{name}",
    }
