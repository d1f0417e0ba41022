"""``new_stored_resource`` makes the object SQLModel's constructor makes, without its cost."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from painflow_shared.fhir.store_tables import StoredResource, new_stored_resource

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
CONTENT = {"resourceType": "Patient", "id": "p1", "active": True}


def _columns(row: StoredResource) -> dict[str, object]:
    return {k: v for k, v in vars(row).items() if not k.startswith("_")}


def test_the_fast_row_is_the_constructor_s_row() -> None:
    fast = new_stored_resource("Patient", "p1", 3, NOW, CONTENT)
    slow = StoredResource(
        resource_type="Patient", id="p1", version_id=3, last_updated=NOW, content=CONTENT
    )
    assert _columns(fast) == _columns(slow)
    assert fast.model_dump() == slow.model_dump() and repr(fast) == repr(slow)
    assert fast.model_fields_set == slow.model_fields_set
    assert inspect(fast).transient and inspect(slow).transient


def test_the_fast_row_is_stored_and_changed_like_any_other() -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine, tables=[StoredResource.__table__])  # type: ignore[list-item]
    with Session(engine) as session:
        row = new_stored_resource("Patient", "p1", 1, NOW, CONTENT)
        session.add(row)
        session.commit()
        row.version_id = 2  # tracked as any attribute change: an UPDATE
        session.commit()
    with Session(engine) as session:
        stored = session.get(StoredResource, ("Patient", "p1"))
        assert stored is not None and stored.version_id == 2 and stored.content == CONTENT
        assert stored.deleted is False
