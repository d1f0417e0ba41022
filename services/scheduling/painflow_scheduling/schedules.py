"""Rooms and clinicians: ``Schedule`` (its imaging modality a DICOM coding in serviceType, its
actor a Location or Practitioner), ``Slot`` (carrying its Schedule's serviceType) and
``$generate-slots`` from a weekly template."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlmodel import col, select

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.fhir_values import parse_moment
from painflow_scheduling.domain.slots import generate_slots, weekly_template_from_parameters
from painflow_scheduling.instants import require_zones
from painflow_shared.codes import ImagingModality, System
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.references import reference_of, reference_string
from painflow_shared.fhir.store import SearchIndexEntry

ACTOR_TYPES = ("Location/", "Practitioner/", "PractitionerRole/")


def create_schedule(ctx: SchedulingContext, body: dict[str, Any]) -> dict[str, Any]:
    actors = [reference_of(a) or "" for a in body.get("actor") or []]
    if not actors or not all(_actor_ok(a) for a in actors):
        raise BusinessRuleViolation(
            "actor names the room (Location) or clinician (Practitioner) the Schedule is for",
            expression="Schedule.actor",
        )
    for index, concept in enumerate(body.get("serviceType") or []):
        for coding in concept.get("coding") or []:
            if coding.get("system") == System.DICOM and coding.get("code") not in set(
                ImagingModality
            ):
                raise BusinessRuleViolation(
                    "a room's imaging modality is DICOM RF, CT or US",
                    expression=f"Schedule.serviceType[{index}]",
                )
    require_zones(body, ("planningHorizon.start", "planningHorizon.end"))
    return ctx.store.create({k: v for k, v in body.items() if k not in ("id", "meta")})


def _actor_ok(reference: str) -> bool:
    return any(reference.startswith(t) or f"/{t}" in reference for t in ACTOR_TYPES)


def create_slot(ctx: SchedulingContext, body: dict[str, Any]) -> dict[str, Any]:
    require_zones(body, ("start", "end"))
    schedule = ctx.store.resolve(reference_of(body.get("schedule")), "Schedule")
    if schedule is None:
        raise BusinessRuleViolation(
            "schedule must name a Schedule known here", expression="Slot.schedule"
        )
    start = parse_moment(body.get("start"), ctx.site_zone)
    end = parse_moment(body.get("end"), ctx.site_zone)
    if start is None or end is None or end <= start:
        raise BusinessRuleViolation("a Slot ends after it starts", expression="Slot.end")
    if body.get("status") not in ("free", "busy"):
        raise BusinessRuleViolation("a Slot is free or busy here", expression="Slot.status")
    slot = {k: v for k, v in body.items() if k not in ("id", "meta", "serviceType")}
    if schedule.get("serviceType"):
        slot["serviceType"] = schedule["serviceType"]  # rooms are found by their imaging
    return ctx.store.create(slot)


def generate(
    ctx: SchedulingContext, schedule_id: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    """The Slots created, as a Bundle of type collection (existing ones are not made twice)."""
    schedule = ctx.store.read("Schedule", schedule_id)
    template = weekly_template_from_parameters(parameters, ctx.site_zone.key)
    existing = _existing_starts(ctx, schedule_id)
    created = []
    for slot in generate_slots(template, schedule):
        moment = parse_moment(slot["start"], ctx.site_zone)
        if moment is not None and moment.astimezone(UTC) not in existing:
            created.append(ctx.store.create(slot))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(created),
        "entry": [{"resource": s} for s in created],
    }


def _existing_starts(ctx: SchedulingContext, schedule_id: str) -> set[Any]:
    """Start instants of the Schedule's slots, straight from the search index (no page limit)."""
    of_schedule = select(SearchIndexEntry.resource_id).where(
        SearchIndexEntry.resource_type == "Slot",
        SearchIndexEntry.param == "schedule",
        SearchIndexEntry.value == reference_string("Schedule", schedule_id),
    )
    rows = ctx.session.exec(
        select(SearchIndexEntry.date_value).where(
            SearchIndexEntry.resource_type == "Slot",
            SearchIndexEntry.param == "start",
            col(SearchIndexEntry.resource_id).in_(of_schedule),
        )
    ).all()
    # SQLite hands back naive UTC values, PostgreSQL aware ones
    return {r.replace(tzinfo=UTC) if r.tzinfo is None else r.astimezone(UTC) for r in rows if r}
