"""The assessment worklist over HTTP (JSON for people; FHIR resources come with the intake work)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from painflow_assessment.tables import IntakeItem
from painflow_shared.fhir.errors import NotFound
from painflow_shared.runtime import SessionDep

router = APIRouter(prefix="/worklist", tags=["assessment"])


@router.get("")
def worklist(session: SessionDep, status: str | None = None) -> list[dict[str, Any]]:
    query = select(IntakeItem).order_by(col(IntakeItem.updated_at).desc()).limit(200)
    if status:
        query = query.where(IntakeItem.status == status)
    return [item.model_dump(mode="json") for item in session.exec(query).all()]


@router.get("/{service_request_id}")
def worklist_item(service_request_id: str, session: SessionDep) -> dict[str, Any]:
    item = session.get(IntakeItem, service_request_id)
    if item is None:
        raise NotFound(
            f"no referral ServiceRequest/{service_request_id} on the assessment worklist"
        )
    return item.model_dump(mode="json")
