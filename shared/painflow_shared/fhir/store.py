"""A versioned FHIR resource store every service reuses: id, versionId, lastUpdated, history.

Resources are kept as JSON with their current version in ``fhir_resource`` and every version in
``fhir_resource_version``. Search parameters declared by the service are indexed on write into
``fhir_search_index``; ``search.py`` queries that index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, delete
from sqlmodel import Field, Session, SQLModel, select

from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.fhir.errors import Gone, NotFound, PreconditionFailed
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import is_relative, parse_relative
from painflow_shared.fhir.search_params import SearchParamRegistry


class StoredResource(SQLModel, table=True):
    __tablename__ = "fhir_resource"

    resource_type: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int
    last_updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted: bool = False
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ResourceVersion(SQLModel, table=True):
    __tablename__ = "fhir_resource_version"

    resource_type: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int = Field(primary_key=True)
    last_updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted: bool = False
    method: str = Field(max_length=8)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class SearchIndexEntry(SQLModel, table=True):
    __tablename__ = "fhir_search_index"
    __table_args__ = (
        Index("ix_fhir_search_lookup", "resource_type", "param", "value"),
        Index("ix_fhir_search_owner", "resource_type", "resource_id"),
    )

    pk: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    resource_type: str = Field(max_length=64)
    resource_id: str = Field(max_length=64)
    param: str = Field(max_length=64)
    system: str | None = Field(default=None, max_length=255)
    value: str = Field(max_length=512)
    date_value: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ResourceStore:
    """Versioned CRUD over one service's database session (the caller commits)."""

    def __init__(self, session: Session, registry: SearchParamRegistry) -> None:
        self.session = session
        self.registry = registry

    def create(self, resource: dict[str, Any], *, resource_id: str | None = None) -> dict[str, Any]:
        resource = dict(resource)
        resource["id"] = resource_id or new_id()
        return self._write(resource, version=1, method="POST")

    def update(
        self, resource: dict[str, Any], *, if_match: int | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Update (or create with a client id). Returns the stored resource and if it is new."""
        current = self._current(resource["resourceType"], resource["id"])
        if if_match is not None and (current is None or current.version_id != if_match):
            raise PreconditionFailed(
                f"version {if_match} is not the current version of "
                f"{resource['resourceType']}/{resource['id']}"
            )
        version = 1 if current is None else current.version_id + 1
        return self._write(dict(resource), version=version, method="PUT"), current is None

    def delete(self, resource_type: str, resource_id: str) -> None:
        current = self._current(resource_type, resource_id)
        if current is None or current.deleted:
            return
        now = utcnow()
        current.version_id += 1
        current.deleted = True
        current.last_updated = now
        self.session.add(current)
        self._add_version(current, "DELETE")
        self._reindex(resource_type, resource_id, None)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        current = self._current(resource_type, resource_id)
        if current is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known here")
        if current.deleted:
            raise Gone(f"{resource_type}/{resource_id} was deleted")
        return dict(current.content)

    def find(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        current = self._current(resource_type, resource_id)
        return None if current is None or current.deleted else dict(current.content)

    def resolve(
        self, reference: str | None, resource_type: str | None = None
    ) -> dict[str, Any] | None:
        """What a relative reference (``Type/id``) names here, if it is stored (and of
        ``resource_type`` when given); None for absolute, contained or unknown references."""
        if not reference or not is_relative(reference):
            return None
        target_type, target_id = parse_relative(reference)
        if resource_type is not None and target_type != resource_type:
            return None
        return self.find(target_type, target_id)

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> dict[str, Any]:
        row = self.session.get(ResourceVersion, (resource_type, resource_id, version_id))
        if row is None:
            raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
        if row.deleted:
            raise Gone(f"{resource_type}/{resource_id} version {version_id} is a deletion")
        return dict(row.content)

    def history(self, resource_type: str, resource_id: str) -> list[ResourceVersion]:
        rows = self.session.exec(
            select(ResourceVersion)
            .where(
                ResourceVersion.resource_type == resource_type, ResourceVersion.id == resource_id
            )
            .order_by(ResourceVersion.version_id.desc())  # type: ignore[attr-defined]
        ).all()
        if not rows:
            raise NotFound(f"{resource_type}/{resource_id} is not known here")
        return list(rows)

    def _current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        return self.session.get(StoredResource, (resource_type, resource_id))

    def _write(self, resource: dict[str, Any], *, version: int, method: str) -> dict[str, Any]:
        now = utcnow()
        meta = dict(resource.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = fhir_instant(now)
        resource["meta"] = meta
        row = self._current(resource["resourceType"], resource["id"])
        if row is None:
            row = StoredResource(
                resource_type=resource["resourceType"],
                id=resource["id"],
                version_id=version,
                last_updated=now,
                content=resource,
            )
        else:
            row.version_id, row.last_updated, row.deleted, row.content = (
                version,
                now,
                False,
                resource,
            )
        self.session.add(row)
        self._add_version(row, method)
        self._reindex(resource["resourceType"], resource["id"], resource)
        return resource

    def _add_version(self, row: StoredResource, method: str) -> None:
        self.session.add(
            ResourceVersion(
                resource_type=row.resource_type,
                id=row.id,
                version_id=row.version_id,
                last_updated=row.last_updated,
                deleted=row.deleted,
                method=method,
                content=row.content,
            )
        )

    def _reindex(
        self, resource_type: str, resource_id: str, resource: dict[str, Any] | None
    ) -> None:
        self.session.execute(
            delete(SearchIndexEntry).where(
                SearchIndexEntry.resource_type == resource_type,  # type: ignore[arg-type]
                SearchIndexEntry.resource_id == resource_id,  # type: ignore[arg-type]
            )
        )
        if resource is None:
            return
        for value in self.registry.index_values(resource):
            self.session.add(
                SearchIndexEntry(
                    resource_type=resource_type,
                    resource_id=resource_id,
                    param=value.param,
                    system=value.system,
                    value=value.value[:512],
                    date_value=value.date_value,
                )
            )
