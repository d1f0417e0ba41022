"""What this service knows of one patient: ``Patient/{id}/$everything`` and ``/journeys/{id}``.

``$everything`` is a searchset Bundle of the resources this service owns for the patient (its
follow-up CarePlans and Tasks, outcomes, QuestionnaireResponses, next-step proposals) and the
copies of what the other services' events carried; each entry that belongs to an episode of
care names it in ``entry.link`` (relation ``related``, the EpisodeOfCare's URL).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from painflow_followup.context import aware
from painflow_followup.domain.journey import JourneyEntry, journey_view
from painflow_followup.tables import JourneyEvent, ResourceCopy
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.errors import NotFound
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string
from painflow_shared.fhir.search import find_resources
from painflow_shared.fhir.search_params import SearchParamRegistry

Resource = dict[str, Any]
OWN_BY_PATIENT = ("CarePlan", "Task", "Observation", "QuestionnaireResponse", "ServiceRequest")
NO_EPISODE = frozenset({"Patient", "EpisodeOfCare"})


def journey_of(session: Session, patient_id: str) -> dict[str, Any]:
    rows = session.exec(select(JourneyEvent).where(JourneyEvent.patient_id == patient_id)).all()
    if not rows:
        raise NotFound(f"no journey for Patient/{patient_id}")
    entries = [
        JourneyEntry(
            event_id=row.event_id,
            event_type=row.event_type,
            occurred_at=aware(row.occurred_at),
            trace_id=row.trace_id,
            resources=tuple(row.resources),
            summary=row.summary,
        )
        for row in rows
    ]
    return journey_view(patient_id, entries)


def everything(
    session: Session, registry: SearchParamRegistry, base_url: str, patient_id: str
) -> dict[str, Any]:
    copies = session.exec(
        select(ResourceCopy)
        .where(ResourceCopy.patient_id == patient_id)
        .order_by(col(ResourceCopy.resource_type), col(ResourceCopy.resource_id))
    ).all()
    patient = reference_string("Patient", patient_id)
    own = [
        r
        for resource_type in OWN_BY_PATIENT
        for r in find_resources(session, registry, resource_type, [("patient", patient)])
    ]
    if not copies and not own:
        raise NotFound(f"Patient/{patient_id} is not known here")
    episodes = {c.resource_id: c.full_url for c in copies if c.resource_type == "EpisodeOfCare"}
    latest = _latest_episode(copies)
    entries = [
        _entry(c.full_url, c.content, episodes.get(c.episode_id or "", latest)) for c in copies
    ]
    entries += [_entry(f"{base_url}/{r['resourceType']}/{r['id']}", r, latest) for r in own]
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": fhir_instant()},
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{base_url}/Patient/{patient_id}/$everything"}],
        "entry": entries,
    }


def _latest_episode(copies: Any) -> str | None:
    episodes = [c for c in copies if c.resource_type == "EpisodeOfCare"]
    if not episodes:
        return None
    return max(episodes, key=lambda c: str((c.content.get("period") or {}).get("start"))).full_url


def _entry(full_url: str, resource: Resource, episode_url: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}}
    if episode_url and resource.get("resourceType") not in NO_EPISODE:
        entry["link"] = [{"relation": "related", "url": episode_url}]
    return entry
