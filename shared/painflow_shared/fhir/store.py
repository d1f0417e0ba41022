"""A versioned FHIR resource store every service reuses: id, versionId, lastUpdated, history.

Resources are kept as JSON with their current version in ``fhir_resource`` and every version in
``fhir_resource_version``. Search parameters declared by the service are indexed on write into
``fhir_search_index``; ``search.py`` queries that index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, and_, delete, or_, tuple_
from sqlmodel import Session, col, select

from painflow_shared import staged_inserts
from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.fhir.errors import Gone, NotFound, PreconditionFailed
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import is_relative, parse_relative
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.fhir.store_tables import (
    ResourceVersion,
    SearchIndexEntry,
    StoredResource,
    new_stored_resource,
)

__all__ = ["ResourceStore", "ResourceVersion", "SearchIndexEntry", "StoredResource"]

MAX_REFERRING = 200  # per source type, as find_resources returns at most MAX_COUNT


Key = tuple[str, str]  # (resource type, id)
IndexRow = dict[str, Any]  # a fhir_search_index row's columns


class ResourceStore:
    """Versioned CRUD over one service's database session (the caller commits).

    Writes are staged in the session and reach the database together at the next flush (the
    commit, or a query that needs them): one statement for every row the unit of work inserts
    (``staged_inserts``) instead of a round trip per row. The store remembers the rows it read
    or wrote in this unit of work, so reading them again, or updating what was just created,
    costs no statement.
    """

    def __init__(self, session: Session, registry: SearchParamRegistry) -> None:
        self.session = session
        self.registry = registry
        self._rows: dict[Key, StoredResource] = {}  # read or written in this unit of work
        self._absent: set[Key] = set()  # looked up, and not stored
        self._new: set[Key] = set()  # first stored by this unit of work
        self._minted: set[Key] = set()  # created here: nothing stored before can refer to them
        self._index: dict[Key, list[IndexRow]] = {}  # index rows of what was written here
        self._unflushed: set[Key] = set()  # ... whose rows wait for the session's next flush
        self._unindexed: set[Key] = set()  # no index rows in the database
        self._versions: list[dict[str, Any]] = []  # history rows for the session's next flush
        self._listening = False  # asked for its rows at the session's writes (staged_inserts)

    def create(self, resource: dict[str, Any], *, resource_id: str | None = None) -> dict[str, Any]:
        """A new resource (a new id: the caller's ``resource_id`` must be a fresh one)."""
        resource = dict(resource)
        resource["id"] = resource_id or new_id()
        self._minted.add((resource["resourceType"], resource["id"]))
        return self._write(resource, version=1, method="POST", row=None)

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
        stored = self._write(dict(resource), version=version, method="PUT", row=current)
        return stored, current is None

    def delete(self, resource_type: str, resource_id: str) -> None:
        current = self._current(resource_type, resource_id)
        if current is None or current.deleted:
            return
        current.version_id += 1
        current.deleted = True
        current.last_updated = utcnow()
        self._add_version(current, "DELETE")
        self._reindex((resource_type, resource_id), None)

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

    def referring(self, sources: Sequence[Key], reference: str) -> list[dict[str, Any]]:
        """Current resources that point at ``reference`` through one of ``sources`` (resource
        type, reference search parameter): by source, newest first, at most ``MAX_REFERRING``
        of each. One query; none when ``reference`` names a resource created in this unit of
        work, since only what was written with it can point at it."""
        target = parse_relative(reference) if is_relative(reference) else None
        if target in self._minted:
            keys = [
                k for k in reversed(self._index) if _points_at(self._index[k], sources, reference)
            ]
            matches = [self._rows[key] for key in keys]
        else:
            matches = referring_rows(self.session, sources, reference)
            self._rows.update({(r.resource_type, r.id): r for r in matches})
        ordered = []
        for rtype, _ in sources:
            ordered += [r for r in matches if r.resource_type == rtype][:MAX_REFERRING]
        return [dict(r.content) for r in ordered]

    def load(self, keys: Iterable[Key]) -> None:
        """Read these resources' rows in one query, so that reading or updating them next in
        this unit of work costs no statement."""
        wanted = sorted({k for k in keys if k not in self._rows and k not in self._absent})
        if not wanted:
            return
        key = tuple_(col(StoredResource.resource_type), col(StoredResource.id))
        with self.session.no_autoflush:  # every row this store staged is in self._rows
            rows = self.session.exec(select(StoredResource).where(key.in_(wanted))).all()
        self._rows.update({(r.resource_type, r.id): r for r in rows})
        self._absent.update(k for k in wanted if k not in self._rows)

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

    def written(self) -> list[tuple[StoredResource, bool]]:
        """What this unit of work wrote (its latest version each, with whether it was created
        here), in the order last written: the audit's Provenances."""
        return [(self._rows[key], key in self._new) for key in self._index if key in self._rows]

    def _current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        key = (resource_type, resource_id)
        if key in self._rows or key in self._absent:
            return self._rows.get(key)
        # every row this store staged is in self._rows: flushing first would find nothing more
        with self.session.no_autoflush:
            row = self.session.get(StoredResource, key)
        if row is None:
            self._absent.add(key)  # a concurrent insert of it fails this one's commit instead
        else:
            self._rows[key] = row
        return row

    def _write(
        self, resource: dict[str, Any], *, version: int, method: str, row: StoredResource | None
    ) -> dict[str, Any]:
        now = utcnow()
        resource["meta"] = {
            **(resource.get("meta") or {}),
            "versionId": str(version),
            "lastUpdated": fhir_instant(now),
        }
        key = (resource["resourceType"], resource["id"])
        if row is None:
            row = new_stored_resource(key[0], key[1], version, now, resource)
            self.session.add(row)
            self._rows[key] = row
            self._absent.discard(key)
            self._new.add(key)
            self._unindexed.add(key)
        else:
            row.version_id, row.last_updated, row.deleted = version, now, False
            row.content = resource
        self._add_version(row, method)
        self._reindex(key, resource)
        return resource

    def _add_version(self, row: StoredResource, method: str) -> None:
        """The history row, a dictionary the session's next write inserts with the index rows
        and the resource row (``_staged_rows``, ``staged_inserts``): an ORM object per version
        cost more than the rest of the write. Its resource row is always staged with it, so
        that write always comes."""
        self._versions.append(
            {
                "resource_type": row.resource_type,
                "id": row.id,
                "version_id": row.version_id,
                "last_updated": row.last_updated,
                "deleted": row.deleted,
                "method": method,
                "content": row.content,
            }
        )

    def _reindex(self, key: Key, resource: dict[str, Any] | None) -> None:
        """Replace the resource's index rows. New rows are written at the session's next flush
        (one executemany for all of them); rows in the database are deleted now, once."""
        if key not in self._unindexed:
            self._unindexed.add(key)
            self.session.connection().execute(  # Core: no flush of what is staged
                delete(SearchIndexEntry).where(
                    SearchIndexEntry.resource_type == key[0],  # type: ignore[arg-type]
                    SearchIndexEntry.resource_id == key[1],  # type: ignore[arg-type]
                )
            )
        self._index.pop(key, None)  # re-added last: the newest write comes last
        self._index[key] = [] if resource is None else self._index_rows(key, resource)
        self._unflushed.add(key)
        if not self._listening:
            staged_inserts.provide(self.session, self._staged_rows)
            self._listening = True

    def _staged_rows(self) -> list[tuple[Table, list[dict[str, Any]]]]:
        """At the session's next write, with its resource rows and the rest of what it inserts
        (one statement: ``staged_inserts``): this unit of work's new history and index rows."""
        versions, self._versions = self._versions, []
        keys, self._unflushed = self._unflushed, set()
        rows = [row for key in keys for row in self._index.get(key, [])]
        self._unindexed -= {key for key in keys if self._index.get(key)}
        return [(_table(ResourceVersion), versions), (_table(SearchIndexEntry), rows)]

    def _index_rows(self, key: Key, resource: dict[str, Any]) -> list[IndexRow]:
        return [
            {
                "resource_type": key[0],
                "resource_id": key[1],
                "param": value.param,
                "system": value.system,
                "value": value.value[:512],
                "date_value": value.date_value,
            }
            for value in self.registry.index_values(resource)
        ]


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _points_at(rows: list[IndexRow], sources: Sequence[Key], reference: str) -> bool:
    return any(
        (row["resource_type"], row["param"]) in sources and row["value"] == reference
        for row in rows
    )


def referring_rows(
    session: Session, sources: Sequence[Key], reference: str
) -> list[StoredResource]:
    """The stored resources (staged ones included) indexed as pointing at ``reference``."""
    via = or_(
        *(
            and_(col(SearchIndexEntry.resource_type) == rtype, col(SearchIndexEntry.param) == p)
            for rtype, p in sources
        )
    )
    pointing = select(SearchIndexEntry.resource_type, SearchIndexEntry.resource_id).where(
        col(SearchIndexEntry.value) == reference, via
    )
    key = tuple_(col(StoredResource.resource_type), col(StoredResource.id))
    query = (
        select(StoredResource)
        .where(key.in_(pointing), col(StoredResource.deleted).is_(False))
        .order_by(col(StoredResource.last_updated).desc(), col(StoredResource.id))
    )
    return list(session.exec(query).all())
