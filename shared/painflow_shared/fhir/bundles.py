"""Bundles we answer with: searchset, history, transaction-response."""

from __future__ import annotations

from typing import Any

from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.search import SearchPage
from painflow_shared.fhir.store import ResourceVersion


def full_url(base: str, resource: dict[str, Any]) -> str:
    return f"{base}/{resource['resourceType']}/{resource['id']}"


def searchset(
    base: str,
    page: SearchPage,
    links: list[dict[str, str]],
    included: list[dict[str, Any]] | None = None,
    outcome: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A searchset; ``outcome`` (warnings, e.g. what lenient handling ignored) is an entry
    with search mode ``outcome``, as HAPI FHIR answers."""
    entries = [
        {"fullUrl": full_url(base, r), "resource": r, "search": {"mode": "match"}}
        for r in page.resources
    ]
    entries += [
        {"fullUrl": full_url(base, r), "resource": r, "search": {"mode": "include"}}
        for r in included or []
    ]
    if outcome:
        entries.append(
            {"fullUrl": f"urn:uuid:{new_id()}", "resource": outcome, "search": {"mode": "outcome"}}
        )
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": _now()},
        "type": "searchset",
        "total": page.total,
        "link": links,
        "entry": entries,
    }


def history(base: str, versions: list[ResourceVersion]) -> dict[str, Any]:
    entries = []
    for row in versions:
        entry: dict[str, Any] = {
            "fullUrl": f"{base}/{row.resource_type}/{row.id}",
            "request": {"method": row.method, "url": f"{row.resource_type}/{row.id}"},
            "response": {
                "status": "200" if row.method != "POST" else "201",
                "etag": f'W/"{row.version_id}"',
                "lastModified": row.last_updated.isoformat(),
            },
        }
        if not row.deleted:
            entry["resource"] = row.content
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "type": "history",
        "total": len(entries),
        "entry": entries,
    }


def _now() -> str:
    return fhir_instant()
