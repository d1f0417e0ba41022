"""Taking referrals in: a transaction Bundle (or a single ServiceRequest) becomes stored
resources, a triage Task, an EpisodeOfCare and events, all in one database transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, select

from painflow_referral import cases, events
from painflow_referral.bundle_plan import (
    BundlePlan,
    PlannedEntry,
    patient_identifiers,
    plan_transaction,
    unresolved_urns,
)
from painflow_referral.context import IntakeContext
from painflow_referral.domain.referral import (
    REDIRECTED_STATUS,
    episode_of_care,
    is_red_flag,
    reason_references,
    referral_facts,
    referral_issues,
    triage_task,
)
from painflow_referral.domain.task_flow import EPISODE_STATUS_FOR
from painflow_referral.domain.triage import triage
from painflow_referral.reference_rules import reference_problems
from painflow_referral.tables import PatientIdentity, ReferralCase
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.errors import BusinessRuleViolation, Conflict, InvalidRequest, Issue
from painflow_shared.fhir.reference_check import Written
from painflow_shared.fhir.references import parse_relative, reference_of
from painflow_shared.fhir.search import find_resources
from painflow_shared.fhir.search_params import token
from painflow_shared.unit_of_work import ConcurrentWrite


@dataclass
class EntryResult:
    entry: PlannedEntry
    resource: dict[str, Any]
    status: int  # 201 when created, 200 otherwise


@dataclass
class IntakeResult:
    results: list[EntryResult]
    cases: list[ReferralCase]
    replay_of: ReferralCase | None = None  # the same referral was taken before: nothing written


def submit_transaction(ctx: IntakeContext, bundle: dict[str, Any]) -> IntakeResult:
    """Store a transaction's entries and open a case per new referral."""
    plan = plan_transaction(bundle, lambda rtype, query: _match(ctx, rtype, query))
    problems = unresolved_urns(plan)
    if problems:
        raise InvalidRequest(problems[0].diagnostics, issues=problems)
    duplicates = _known_referrals(ctx, plan)
    referrals = plan.of_type("ServiceRequest")
    if referrals and len(duplicates) == len(referrals):
        case = ctx.session.get(ReferralCase, referrals[0].id)
        return IntakeResult([], [], replay_of=case)
    _check_referrals(ctx, plan, duplicates)
    results = [_write(ctx, entry) for entry in plan.entries]
    opened = []
    for entry in referrals:
        if entry.index in duplicates:
            continue
        # an id the plan minted has no case yet; an update's id may have one
        if entry.method == "create" or ctx.session.get(ReferralCase, entry.id) is None:
            opened.append(_open_case(ctx, plan, entry))
        else:  # an update of a referral we have: the EHR may be revoking it
            cases.cancel_if_revoked(ctx, ctx.store.read("ServiceRequest", entry.id))
    return IntakeResult(results, opened)


def _match(ctx: IntakeContext, resource_type: str, query: str) -> list[str]:
    pairs = [part.partition("=") for part in query.lstrip("?").split("&") if "=" in part]
    params = [(name, value) for name, _, value in pairs]
    if not params or any(name != "identifier" for name, _ in params):
        raise InvalidRequest(
            "ifNoneExist supports identifier=system|value",
            expression="Bundle.entry.request.ifNoneExist",
        )
    found = find_resources(ctx.session, ctx.store.registry, resource_type, params)
    return [r["id"] for r in found]


def identifier_key(service_request: dict[str, Any]) -> str | None:
    for identifier in service_request.get("identifier") or []:
        if identifier.get("system") and identifier.get("value"):
            return token(identifier)
    return None


def _known_referrals(ctx: IntakeContext, plan: BundlePlan) -> dict[int, str]:
    """New ServiceRequests the EHR sent before (same identifier): entry index -> existing id.

    An update keeps its own identifier; taking another referral's identifier is a conflict.
    """
    known = {}
    cases_by_key = _cases_by_identifier(ctx, plan.of_type("ServiceRequest"))
    for entry in plan.of_type("ServiceRequest"):
        case = cases_by_key.get(identifier_key(entry.resource) or "")
        if case is None or case.service_request_id == entry.id:
            continue
        if entry.method == "update":
            raise Conflict(
                f"that identifier belongs to ServiceRequest/{case.service_request_id}",
                expression=f"Bundle.entry[{entry.index}].resource.identifier",
            )
        known[entry.index] = case.service_request_id
        entry.method, entry.id = "match", case.service_request_id
    return known


def _cases_by_identifier(
    ctx: IntakeContext, entries: list[PlannedEntry]
) -> dict[str, ReferralCase]:
    """The cases already opened for these referrals' identifiers: one query for them all."""
    keys = {key for entry in entries if (key := identifier_key(entry.resource))}
    if not keys:
        return {}
    query = select(ReferralCase).where(col(ReferralCase.identifier_key).in_(sorted(keys)))
    return {str(case.identifier_key): case for case in ctx.session.exec(query).all()}


def _check_referrals(ctx: IntakeContext, plan: BundlePlan, duplicates: dict[int, str]) -> None:
    """Referral rules, and every reference of what is written resolves, to a type it allows."""
    issues: list[Issue] = []
    written: list[Written] = []
    for entry in plan.entries:
        if entry.index in duplicates or entry.method == "match":
            continue
        path = f"Bundle.entry[{entry.index}].resource"
        if entry.type == "ServiceRequest":
            issues += referral_issues(entry.resource, path)
        written.append(Written(path, entry.resource))
    known = {(entry.type, entry.id) for entry in plan.entries}
    issues += reference_problems(ctx, written, known)
    if issues:
        raise BusinessRuleViolation(issues[0].diagnostics, issues=issues)


def _patient_of(ctx: IntakeContext, plan: BundlePlan, subject: str) -> dict[str, Any] | None:
    for entry in plan.of_type("Patient"):
        if entry.reference == subject:
            return entry.resource
    return ctx.store.resolve(subject, "Patient")


def _write(ctx: IntakeContext, entry: PlannedEntry) -> EntryResult:
    if entry.method == "match":
        return EntryResult(entry, ctx.store.read(entry.type, entry.id), 200)
    if entry.method == "update":
        stored, created = ctx.store.update(entry.resource, if_match=entry.if_match)
        result = EntryResult(entry, stored, 201 if created else 200)
    else:
        stored = ctx.store.create(entry.resource, resource_id=entry.id)
        result = EntryResult(entry, stored, 201)
    if entry.type == "Patient":
        _claim_identifiers(ctx, stored, entry.method == "create")
    return result


def _claim_identifiers(ctx: IntakeContext, patient: dict[str, Any], new: bool) -> None:
    """A concurrent intake of the same person fails on the unique key when this commits (or
    here, if its identity row committed after our match ran) and is retried once, when it is
    found as a match. A Patient new here needs no look-up: its match found no owner."""
    identifiers = patient_identifiers(patient)
    owners = {} if new else _identity_owners(ctx, identifiers)
    for identifier in identifiers:
        owner = owners.get((identifier["system"], identifier["value"]))
        if owner is None:
            ctx.session.add(PatientIdentity(**identifier, patient_id=patient["id"]))
        elif owner != patient["id"]:
            raise ConcurrentWrite(
                f"an identifier of this Patient already names Patient/{owner}",
                expression="Patient.identifier",
            )


def _identity_owners(
    ctx: IntakeContext, identifiers: list[dict[str, str]]
) -> dict[tuple[str, str], str]:
    """Who each identifier names here already: one query."""
    if not identifiers:
        return {}
    pairs = sorted({(i["system"], i["value"]) for i in identifiers})
    columns = tuple_(col(PatientIdentity.system), col(PatientIdentity.value))
    rows = ctx.session.exec(select(PatientIdentity).where(columns.in_(pairs))).all()
    return {(row.system, row.value): row.patient_id for row in rows}


def _open_case(ctx: IntakeContext, plan: BundlePlan, entry: PlannedEntry) -> ReferralCase:
    service_request = ctx.store.read("ServiceRequest", entry.id)
    patient_ref = str(reference_of(service_request["subject"]))
    patient = _patient_of(ctx, plan, patient_ref)
    conditions = _conditions(ctx, plan, service_request, patient_ref)
    coverages = [e.resource for e in plan.of_type("Coverage")]
    decision = triage(
        referral_facts(service_request, patient, conditions, coverages), ctx.policy, ctx.today()
    )
    now = datetime.now(UTC)
    if decision.priority != service_request.get("priority"):
        service_request = ctx.store.update({**service_request, "priority": decision.priority})[0]
    task = ctx.store.create(triage_task(service_request, decision, now))
    episode = ctx.store.create(
        episode_of_care(service_request, conditions, now, EPISODE_STATUS_FOR[task["status"]])
    )
    case = ReferralCase(
        service_request_id=entry.id,
        patient_id=parse_relative(patient_ref)[1],
        task_id=task["id"],
        episode_id=episode["id"],
        identifier_key=identifier_key(service_request),
        created_at=now,
    )
    ctx.session.add(case)  # written with the rest at the commit (its unique keys checked there)
    events.publish_referral_event(ctx.uow, ReferralEvent.RECEIVED, case)
    if is_red_flag(decision):
        _redirect(ctx, case, decision.reason)
    return case


def _redirect(ctx: IntakeContext, case: ReferralCase, reason: str) -> None:
    """A red flag: the referral leaves the interventional path for urgent care."""
    cases.set_task_status(ctx, case, REDIRECTED_STATUS, reason, event_type=ReferralEvent.REDIRECTED)


def _conditions(
    ctx: IntakeContext, plan: BundlePlan, service_request: dict[str, Any], patient_ref: str
) -> list[dict[str, Any]]:
    """The referral's reasons (reasonReference) and the patient's Conditions sent with it."""
    found = {
        e.reference: e.resource
        for e in plan.of_type("Condition")
        if reference_of(e.resource.get("subject")) == patient_ref
    }
    for ref in reason_references(service_request) - set(found):
        condition = ctx.store.resolve(ref, "Condition")
        if condition is not None:
            found[ref] = condition
    return list(found.values())
