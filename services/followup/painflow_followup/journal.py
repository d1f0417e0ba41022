"""Every event of the four topics, kept: a journey row (with its trace id), the latest copy of
each resource it carried, and the patient's intake baseline from the assessment's scores.

Copies keep the newest version whatever order events arrive in (an older event never
overwrites a newer copy); the journey sorts by each step's clinical time, not arrival.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from painflow_followup.context import FollowupContext, Resource, aware, full_url_in
from painflow_followup.domain.journey import JOURNEY_STARTED
from painflow_followup.domain.journey_entries import NRS_LOINC, journey_entry
from painflow_followup.tables import IntakeBaseline, JourneyEvent, ResourceCopy
from painflow_shared.codes import System
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import AssessmentEvent, ReferralEvent
from painflow_shared.fhir.dates import parse_fhir_date, utcnow

NOT_COPIED = frozenset({"MessageHeader"})
BASELINE_EVENTS = frozenset({AssessmentEvent.COMPLETED, AssessmentEvent.NOT_CANDIDATE})


def record_event(ctx: FollowupContext, event: Envelope) -> None:
    """The journey row of any event; copies and baselines of other services' events."""
    published = aware(parse_fhir_date(event.time) or utcnow())
    if ctx.uow.get(JourneyEvent, event.id) is not None:  # no flush of what a batch staged
        return  # the same event republished under its id: one row
    entry = journey_entry(
        event_id=event.id,
        event_type=event.type,
        published_at=published,
        trace_id=trace_id_of(event.extra_headers.get("traceparent")),
        bundle=event.bundle,
    )
    ctx.session.add(
        JourneyEvent(
            event_id=entry.event_id,
            event_type=entry.event_type,
            patient_id=event.patient_id,
            occurred_at=aware(entry.occurred_at),
            published_at=published,
            trace_id=entry.trace_id,
            resources=list(entry.resources),
            summary=dict(entry.summary),
        )
    )
    if event.type == ReferralEvent.RECEIVED:
        _start_journey(ctx, event, published)
    if event.source != f"/painflow/{ctx.settings.service_name}":
        _keep_copies(ctx, event, published)
    if event.type in BASELINE_EVENTS:
        _keep_baseline(ctx, event, published)


def preload(ctx: FollowupContext, events: Sequence[Envelope]) -> None:
    """A polled batch's journey rows, copies and baselines, one query each (events/batch.py):
    ``record_event`` then finds them without a statement per event."""
    ctx.uow.load(JourneyEvent, [e.id for e in events])
    others = [e for e in events if e.source != f"/painflow/{ctx.settings.service_name}"]
    ctx.uow.load(ResourceCopy, [key for e in others for key in _keys(_copied(e))])
    ctx.uow.load(IntakeBaseline, {e.patient_id for e in events if e.type in BASELINE_EVENTS})


def _copied(event: Envelope) -> list[Resource]:
    resources = [e.get("resource") or {} for e in event.bundle.get("entry") or []]
    return [r for r in resources if r.get("resourceType") not in NOT_COPIED and r.get("id")]


def _keys(resources: list[Resource]) -> list[tuple[str, str]]:
    return [(r["resourceType"], r["id"]) for r in resources]


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _start_journey(ctx: FollowupContext, event: Envelope, published: datetime) -> None:
    """The injury: the onset of the referral's Condition(s), else the episode's start."""
    onsets = [parse_fhir_date(c.get("onsetDateTime")) for c in event.resources("Condition")]
    episode = event.first("EpisodeOfCare") or {}
    known = [o for o in onsets if o is not None]
    start = min(known) if known else parse_fhir_date((episode.get("period") or {}).get("start"))
    ctx.session.add(
        JourneyEvent(
            event_id=f"{event.id}-start",
            event_type=JOURNEY_STARTED,
            patient_id=event.patient_id,
            occurred_at=aware(start or published),
            published_at=published,
            trace_id=trace_id_of(event.extra_headers.get("traceparent")),
            resources=[f"Condition/{c['id']}" for c in event.resources("Condition")],
            summary={},
        )
    )


def _keep_copies(ctx: FollowupContext, event: Envelope, published: datetime) -> None:
    episode = event.first("EpisodeOfCare")
    copied = _copied(event)
    ctx.uow.load(ResourceCopy, _keys(copied))  # one query (none after a batch's preload)
    for resource in copied:
        key = (resource["resourceType"], resource["id"])
        copy = ctx.uow.get(ResourceCopy, key)
        if copy is not None and aware(copy.seen_at) > published:
            continue  # a newer event already brought a newer version
        fields: dict[str, Any] = {
            "patient_id": event.patient_id,
            "full_url": full_url_in(event, resource),
            "source": event.source,
            "seen_at": published,
            "content": resource,
        }
        if copy is None:
            copy = ResourceCopy(resource_type=key[0], resource_id=key[1], **fields)
        else:
            for name, value in fields.items():
                setattr(copy, name, value)
        if episode is not None and key[0] != "EpisodeOfCare":
            copy.episode_id = episode["id"]
        ctx.session.add(copy)


def _keep_baseline(ctx: FollowupContext, event: Envelope, published: datetime) -> None:
    impression = event.first("ClinicalImpression") or {}
    measured = aware(parse_fhir_date(impression.get("date")) or published)
    current = ctx.uow.get(IntakeBaseline, event.patient_id)
    if current is not None and aware(current.measured_at) > measured:
        return  # a later intake already set the baseline
    baseline = current or IntakeBaseline(patient_id=event.patient_id, measured_at=measured)
    baseline.measured_at = measured
    nrs = _score(event.resources("Observation"), NRS_LOINC)
    if nrs is not None:
        baseline.nrs, baseline.nrs_reference = nrs[0], full_url_in(event, nrs[1])
    for name, measure in ctx.policies.measures.functions.items():
        found = _score(event.resources("Observation"), measure.loinc)
        if found is not None:
            baseline.function_measure, baseline.function_score = name, found[0]
    ctx.session.add(baseline)


def _score(observations: list[Resource], loinc: str) -> tuple[float, Resource] | None:
    for observation in observations:
        codings = (observation.get("code") or {}).get("coding") or []
        if not any(c.get("system") == System.LOINC and c.get("code") == loinc for c in codings):
            continue
        value: Any = observation.get("valueInteger")
        if value is None:
            value = (observation.get("valueQuantity") or {}).get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), observation
    return None
