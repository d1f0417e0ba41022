"""The Bundles the referral service answers with."""

from __future__ import annotations

from typing import Any

from painflow_referral.intake import EntryResult
from painflow_referral.tables import ReferralCase
from painflow_shared.fhir.bundles import full_url
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.errors import FhirError
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.outcomes import operation_outcome
from painflow_shared.fhir.versions import etag, location, status_line


def bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "type": kind,
        "timestamp": fhir_instant(),
        "entry": entries,
    }


def transaction_response(base_url: str, results: list[EntryResult]) -> dict[str, Any]:
    return bundle("transaction-response", [_entry(base_url, r.resource, r.status) for r in results])


def _entry(base_url: str, resource: dict[str, Any], status: int) -> dict[str, Any]:
    return {
        "fullUrl": full_url(base_url, resource),
        "response": {
            "status": status_line(status),
            "location": location(resource),
            "etag": etag(resource),
            "lastModified": resource.get("meta", {}).get("lastUpdated"),
        },
    }


def replayed(case: ReferralCase) -> dict[str, Any]:
    """The answer the first submission got, every entry now 200: nothing new was made."""
    original = dict(case.submission_response or {})
    entries = [
        {**e, "response": {**e.get("response", {}), "status": status_line(200)}}
        for e in original.get("entry", [])
    ]
    return {**original, "id": new_id(), "entry": entries}


def error_entry(error: FhirError) -> dict[str, Any]:
    return {"response": {"status": str(error.status), "outcome": operation_outcome(error.issues)}}
