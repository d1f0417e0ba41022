"""The store's three tables: current versions, every version, and the search index.

Kept apart from ``store.py`` (which re-exports them) so the store's logic stays readable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel


class StoredResource(SQLModel, table=True):
    __tablename__ = "fhir_resource"

    resource_type: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int
    last_updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted: bool = False
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


_GIVEN_FIELDS = frozenset(StoredResource.model_fields) - {"deleted"}  # deleted is a default
_configured: list[bool] = []


def new_stored_resource(
    resource_type: str, resource_id: str, version: int, last_updated: datetime, content: Any
) -> StoredResource:
    """A new ``fhir_resource`` row from the store's own values, without SQLModel's validating
    constructor: that took 29 us a row, this 3.5, and a referral's event has every consumer
    store a copy of each resource it carries (issue 12). The same object as the constructor
    makes: SQLAlchemy's instance state, the columns' values, pydantic's fields set."""
    if not _configured:  # the constructor's first call configures the mappers; this must too
        configure_mappers()
        _configured.append(True)
    row: StoredResource = StoredResource._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(
        resource_type=resource_type,
        id=resource_id,
        version_id=version,
        last_updated=last_updated,
        content=content,
        deleted=False,  # after the given values, as the constructor sets defaults
    )
    object.__setattr__(row, "__pydantic_fields_set__", set(_GIVEN_FIELDS))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row


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
