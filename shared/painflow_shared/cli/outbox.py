"""``painflow outbox parked|retry SERVICE``: parked outbox events (events/parked.py)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine

from painflow_shared.cli.config import SERVICES
from painflow_shared.db import make_engine
from painflow_shared.events.parked import ORDER_NOTE, database_url_for, list_parked, retry_parked

_SERVICE = click.argument("service", type=click.Choice(sorted(SERVICES)))
_DATABASE = click.option(
    "--database-url", help="the service's database (default: as the service finds it)"
)


@click.group()
def outbox() -> None:
    """Outbox events the broker refused for good (parked), and sending them again."""


def _engine(service: str, database_url: str | None) -> Engine:
    url = database_url or database_url_for(service)
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        raise click.ClickException(
            f"no database at {url}: run from the repository root, or pass --database-url"
        )
    return make_engine(url)


@outbox.command()
@_SERVICE
@_DATABASE
def parked(service: str, database_url: str | None) -> None:
    """List the service's parked events (never their payload)."""
    engine = _engine(service, database_url)
    try:
        events = list_parked(engine)
    finally:
        engine.dispose()
    for e in events:
        when = e.parked_at.isoformat(timespec="seconds")
        click.echo(
            f"{e.event_id}  {e.event_type}  {e.topic}  key={e.key}  {when}  "
            f"{e.size_bytes} bytes  {e.reason}"
        )
    click.echo(f"{len(events)} parked event(s) in {service}")


@outbox.command()
@_SERVICE
@click.argument("event_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every parked event of the service")
@_DATABASE
def retry(service: str, event_ids: tuple[str, ...], every: bool, database_url: str | None) -> None:
    """Make parked events pending again; the service's relay publishes them."""
    if bool(event_ids) == every:
        raise click.UsageError("name EVENT_IDS or pass --all (not both)")
    engine = _engine(service, database_url)
    try:
        retried = retry_parked(engine, None if every else list(event_ids))
    finally:
        engine.dispose()
    for event_id in retried:
        click.echo(f"pending again: {event_id}")
    missing = sorted(set(event_ids) - set(retried))
    for event_id in missing:
        click.echo(f"not parked (unknown, already retried or sent): {event_id}", err=True)
    click.echo(f"{len(retried)} event(s) will be published by the relay; {ORDER_NOTE}")
    if missing:
        raise SystemExit(1)
