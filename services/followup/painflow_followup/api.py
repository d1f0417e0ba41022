"""The journey for people: a patient's timeline as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from painflow_followup.tables import JourneyEntry
from painflow_shared.fhir.errors import NotFound
from painflow_shared.runtime import SessionDep

router = APIRouter(prefix="/journey", tags=["followup"])


@router.get("/{patient_id}")
def journey(patient_id: str, session: SessionDep) -> dict[str, Any]:
    entries = session.exec(
        select(JourneyEntry)
        .where(JourneyEntry.patient_id == patient_id)
        .order_by(col(JourneyEntry.occurred_at), col(JourneyEntry.event_id))
    ).all()
    if not entries:
        raise NotFound(f"no journey for Patient/{patient_id}")
    return {
        "patient": f"Patient/{patient_id}",
        "steps": [
            {
                "at": e.occurred_at.isoformat(),
                "kind": e.kind,
                "event": e.event_type,
                "episode": e.episode_id,
                **e.detail,
            }
            for e in entries
        ],
    }
