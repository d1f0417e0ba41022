"""The safety profile over HTTP, for the scheduler's booking screen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from painflow_scheduling.tables import SafetyProfile
from painflow_shared.fhir.errors import NotFound
from painflow_shared.runtime import SessionDep

router = APIRouter(prefix="/patients", tags=["scheduling"])


@router.get("/{patient_id}/safety-profile")
def safety_profile(patient_id: str, session: SessionDep) -> dict[str, Any]:
    profile = session.get(SafetyProfile, patient_id)
    if profile is None:
        raise NotFound(f"scheduling has no referral for Patient/{patient_id}")
    return profile.model_dump(mode="json")
