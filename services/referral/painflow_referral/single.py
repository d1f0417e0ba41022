"""Single-resource writes: ``POST /fhir/{type}`` and ``PUT /fhir/{type}/{id}``.

A single write is a one-entry transaction (plus, for a referral whose subject lives on the
sender's FHIR server, the Patient and Conditions fetched from there), so it gets exactly the
same validation, de-duplication, triage and events as a Bundle.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from painflow_referral.context import IntakeContext
from painflow_referral.intake import submit_transaction
from painflow_referral.remote import RemoteFhir, identifier_for_remote
from painflow_referral.transactions import run_in_transaction
from painflow_shared.fhir.errors import FhirError, rebase_paths
from painflow_shared.fhir.references import reference_of, split_absolute
from painflow_shared.fhir.remote_client import RemoteFhirClient
from painflow_shared.fhir.store import new_id

Entry = dict[str, Any]


def create_one(
    app: FastAPI, resource: dict[str, Any], if_none_exist: str | None, extra: list[Entry]
) -> tuple[dict[str, Any], int]:
    """Store one resource; returns it with 201, or the existing match with 200."""
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return _write_one(app, resource, request, extra)


def update_one(
    app: FastAPI, resource: dict[str, Any], if_match: str | None
) -> tuple[dict[str, Any], int]:
    """Update (or create at a client-chosen id): 200, or 201 when it is new."""
    request: dict[str, Any] = {
        "method": "PUT",
        "url": f"{resource['resourceType']}/{resource['id']}",
    }
    if if_match:
        request["ifMatch"] = if_match
    return _write_one(app, resource, request, [])


def _write_one(
    app: FastAPI, resource: dict[str, Any], request: dict[str, Any], extra: list[Entry]
) -> tuple[dict[str, Any], int]:
    entry = {"fullUrl": f"urn:uuid:{new_id()}", "resource": resource, "request": request}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [*extra, entry]}

    def work(ctx: IntakeContext) -> tuple[dict[str, Any], int]:
        outcome = submit_transaction(ctx, bundle)
        if outcome.replay_of is not None:
            return ctx.store.read("ServiceRequest", outcome.replay_of.service_request_id), 200
        mine = outcome.results[-1]
        return mine.resource, 201 if mine.status.startswith("201") else 200

    try:
        return run_in_transaction(app, work)
    except FhirError as exc:  # report paths in the resource the client sent, not our Bundle
        old = f"Bundle.entry[{len(extra)}].resource"
        raise rebase_paths(exc, old, resource["resourceType"]) from None


def remote_entries(app: FastAPI, service_request: dict[str, Any]) -> list[Entry]:
    """Fetch an absolute subject (and absolute reason Conditions) from a trusted sender's server.

    Every URL is checked against the trusted bases before the first one is fetched.
    """
    subject = reference_of(service_request.get("subject")) or ""
    if split_absolute(subject) is None:
        return []
    wanted = [(subject, "Patient", "ServiceRequest.subject")]
    for index, reason in enumerate(service_request.get("reasonReference") or []):
        parts = split_absolute(reference_of(reason) or "")
        if parts and parts[1] == "Condition":
            url = str(reference_of(reason))
            wanted.append((url, "Condition", f"ServiceRequest.reasonReference[{index}]"))
    remote = _remote(app)
    for url, expected_type, expression in wanted:
        remote.refuse_untrusted(url, expected_type, expression)
    patient = remote.fetch(*wanted[0])
    patient["identifier"] = [*patient.get("identifier", []), identifier_for_remote(subject)]
    patient.pop("id", None)
    entries = [_entry(subject, patient, ifNoneExist=_query(identifier_for_remote(subject)))]
    for url, expected_type, expression in wanted[1:]:
        condition = remote.fetch(url, expected_type, expression)
        condition.pop("id", None)
        condition["subject"] = {"reference": subject}
        entries.append(_entry(url, condition))
    return entries


def _remote(app: FastAPI) -> RemoteFhir:
    settings = app.state.runtime.settings
    client = RemoteFhirClient(
        policy=settings.remote_policy(),
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
        attempts=settings.fetch_attempts,
    )
    return RemoteFhir(client)


def _entry(full_url: str, resource: dict[str, Any], **request: str) -> Entry:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


def _query(identifier: dict[str, str]) -> str:
    return f"identifier={identifier['system']}|{identifier['value']}"
