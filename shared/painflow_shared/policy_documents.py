"""``GET /policies`` and ``GET /policies/{name}``: the clinical policy documents a service runs
with: a site's own file where its settings name one, else the shipped one, and where a site
setting picks among a document's values (the referral's coverage requirement, the follow-up's
medial branch block threshold), the document as that setting leaves it.

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


def read_policies(files: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Policy files by name, as documents (for policies no site setting changes)."""
    return {name: json_codec.loads(path.read_bytes()) for name, path in files.items()}


def policies_router(documents: Mapping[str, dict[str, Any]]) -> APIRouter:
    """The documents serialized once, at start: what the service runs with is what it serves."""
    bodies = {name: json_codec.dumps_bytes(document) for name, document in documents.items()}
    index = {"policies": [_entry(name, document) for name, document in documents.items()]}
    listing_body = json_codec.dumps_bytes(index)
    router = APIRouter(prefix="/policies", tags=["policies"])

    @router.get("")
    async def listing() -> Response:
        return Response(listing_body, media_type="application/json", headers=CACHE)

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
