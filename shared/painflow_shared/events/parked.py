"""Parked outbox events: list them, and move them back to pending once the cause is fixed.

    python -m painflow_shared.events.parked --service referral list
    python -m painflow_shared.events.parked --service referral retry EVENT_ID [EVENT_ID ...]
    python -m painflow_shared.events.parked --service referral retry --all

The relay parks a row the broker can never take (too large for the producer or the topic, or
unserializable; see events/relay.py). The database is the service's own, found as the service
finds it: ``<SERVICE>_DATABASE_URL``, else the SQLite file under ``.run/`` (run from the
repository root, as ``make run`` does); ``--database-url`` overrides both.

``retry`` makes the rows pending again, and the service's relay publishes them on its next
pass. Their order relative to the patient's later events is not restored: those were delivered
while this one was parked, so consumers see it after them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic_settings import SettingsConfigDict
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from painflow_shared.db import make_engine
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.settings import SharedSettings

ORDER_NOTE = (
    "order is not restored: each patient's later events were delivered while these were parked, "
    "so consumers see these after them"
)


@dataclass(frozen=True)
class ParkedEvent:
    event_id: str
    event_type: str
    topic: str
    key: str  # the Patient's id
    parked_at: datetime
    reason: str
    size_bytes: int  # the serialized value


def database_url_for(service: str) -> str:
    """The database URL the service itself would use (its env prefix, then its default)."""

    class _ServiceSettings(SharedSettings):
        model_config = SettingsConfigDict(
            env_prefix=f"{service.upper()}_", extra="ignore", populate_by_name=True
        )

    return _ServiceSettings(service_name=service).database_url


def list_parked(engine: Engine) -> list[ParkedEvent]:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.parked_at).is_not(None))
            .order_by(col(OutboxMessage.seq))
        ).all()
        return [_parked(row) for row in rows]


def _parked(row: OutboxMessage) -> ParkedEvent:
    assert row.parked_at is not None
    return ParkedEvent(
        event_id=row.event_id,
        event_type=row.event_type,
        topic=row.topic,
        key=row.key,
        parked_at=row.parked_at,
        reason=row.parked_reason or "",
        size_bytes=len(row.payload.encode("utf-8")),
    )


def retry_parked(engine: Engine, event_ids: Sequence[str] | None = None) -> list[str]:
    """Make parked rows pending again (all of them when ``event_ids`` is None); returns the
    ids that were parked and now wait for the relay. Ids not parked are left alone."""
    parked = col(OutboxMessage.parked_at).is_not(None)
    with Session(engine) as session:
        query = select(OutboxMessage.event_id).where(parked)
        if event_ids is not None:
            query = query.where(col(OutboxMessage.event_id).in_(list(event_ids)))
        found = list(session.exec(query).all())
        if found:
            session.execute(
                update(OutboxMessage)
                .where(parked, col(OutboxMessage.event_id).in_(found))
                .values(parked_at=None, parked_reason=None)
            )
            session.commit()
    return found


def _print_table(events: list[ParkedEvent]) -> None:
    header = ("EVENT ID", "TYPE", "TOPIC", "KEY", "PARKED AT", "BYTES", "REASON")
    lines = [header, *(_cells(e) for e in events)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)), line[-1])


def _cells(e: ParkedEvent) -> tuple[str, ...]:
    when = e.parked_at.isoformat(timespec="seconds")
    return (e.event_id, e.event_type, e.topic, e.key, when, str(e.size_bytes), e.reason)


def _engine(args: argparse.Namespace) -> Engine:
    url = args.database_url or database_url_for(args.service)
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        raise SystemExit(f"no database at {url}: run from the repository root or --database-url")
    return make_engine(url)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m painflow_shared.events.parked",
        description="List parked outbox events, or make them pending again after a fix.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--service", help="referral, assessment, scheduling or followup")
    where.add_argument("--database-url", help="the service's database, instead of --service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print every parked event (never its payload)")
    retry = commands.add_parser("retry", help="make parked events pending again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("event_ids", nargs="*", default=[], metavar="EVENT_ID")
    which.add_argument("--all", action="store_true", help="every parked event")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    engine = _engine(args)
    try:
        if args.command == "list":
            events = list_parked(engine)
            if events:
                _print_table(events)
            print(f"{len(events)} parked event(s)")
            return 0
        return _retry(engine, None if args.all else args.event_ids)
    finally:
        engine.dispose()


def _retry(engine: Engine, event_ids: list[str] | None) -> int:
    retried = retry_parked(engine, event_ids)
    for event_id in retried:
        print(f"pending again: {event_id}")
    missing = sorted(set(event_ids or []) - set(retried))
    for event_id in missing:
        print(f"not parked (unknown, already retried or sent): {event_id}", file=sys.stderr)
    print(f"{len(retried)} event(s) will be published by the relay; {ORDER_NOTE}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
