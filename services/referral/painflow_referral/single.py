"""Single-resource writes: ``POST /fhir/{type}`` and ``PUT /fhir/{type}/{id}``.

A single write is a one-entry transaction (plus, for a referral whose subject lives on the
sender's FHIR server, the Patient and Conditions fetched from there), so it gets exactly the
same validation, de-duplication, triage and events as a Bundle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from painflow_referral.context import IntakeContext
from painflow_referral.intake import submit_transaction
from painflow_referral.remote import RemoteFhir, identifier_for_remote
from painflow_shared.fhir.errors import FhirError, rebase_paths
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_of, split_absolute
from painflow_shared.fhir.search_params import identifier_query

if TYPE_CHECKING:
    from painflow_referral.handlers import ReferralHandlers

Entry = dict[str, Any]


def create_one(
    handlers: ReferralHandlers,
    resource: dict[str, Any],
    if_none_exist: str | None,
    extra: list[Entry],
) -> tuple[dict[str, Any], int]:
    """Store one resource; returns it with 201, or the existing match with 200."""
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return _write_one(handlers, resource, request, extra)


def update_one(
    handlers: ReferralHandlers, resource: dict[str, Any], if_match: str | None
) -> tuple[dict[str, Any], int]:
    """Update (or create at a client-chosen id): 200, or 201 when it is new."""
    request: dict[str, Any] = {
        "method": "PUT",
        "url": f"{resource['resourceType']}/{resource['id']}",
    }
    if if_match:
        request["ifMatch"] = if_match
    return _write_one(handlers, resource, request, [])


def _write_one(
    handlers: ReferralHandlers,
    resource: dict[str, Any],
    request: dict[str, Any],
    extra: list[Entry],
) -> tuple[dict[str, Any], int]:
    entry = {"fullUrl": f"urn:uuid:{new_id()}", "resource": resource, "request": request}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [*extra, entry]}

    def work(ctx: IntakeContext) -> tuple[dict[str, Any], int]:
        outcome = submit_transaction(ctx, bundle)
        if outcome.replay_of is not None:
            return ctx.store.read("ServiceRequest", outcome.replay_of.service_request_id), 200
        mine = outcome.results[-1]
        return mine.resource, mine.status

    try:
        return handlers.run(work)
    except FhirError as exc:  # report paths in the resource the client sent, not our Bundle
        old = f"Bundle.entry[{len(extra)}].resource"
        raise rebase_paths(exc, old, resource["resourceType"]) from None


def remote_entries(remote: RemoteFhir, service_request: dict[str, Any]) -> list[Entry]:
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
    for url, expected_type, expression in wanted:
        remote.refuse_untrusted(url, expected_type, expression)
    patient = remote.fetch(*wanted[0])
    patient["identifier"] = [*patient.get("identifier", []), identifier_for_remote(subject)]
    patient.pop("id", None)
    entries = [
        _entry(
            subject, patient, ifNoneExist=str(identifier_query([identifier_for_remote(subject)]))
        )
    ]
    for url, expected_type, expression in wanted[1:]:
        condition = remote.fetch(url, expected_type, expression)
        condition.pop("id", None)
        condition["subject"] = {"reference": subject}
        entries.append(_entry(url, condition))
    return entries


def _entry(full_url: str, resource: dict[str, Any], **request: str) -> Entry:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
