"""``painflow journey PATIENT_ID`` and ``painflow referral send FILE|DIR``, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import httpx

from painflow_shared.cli.config import service_auth, service_url

FHIR_JSON = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}


@click.command()
@click.argument("patient_id")
def journey(patient_id: str) -> None:
    """A patient's timeline from the follow-up service, one line per step."""
    url = f"{service_url('followup')}/journeys/{patient_id}"
    try:
        response = httpx.get(url, timeout=30, follow_redirects=True, auth=service_auth())
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"the follow-up service at {url} does not answer ({type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        raise click.ClickException(f"{response.status_code}: {_diagnostics(response)}")
    _print_journey(response.json())


def _print_journey(body: dict[str, Any]) -> None:
    onset = body.get("injury_onset") or "unknown"
    click.echo(f"{body.get('patient')}  injury onset {onset}")
    for event in body.get("events", []):
        day = event.get("days_since_injury")
        when = f"day {day:>4}" if day is not None else "day    ?"
        summary = ", ".join(f"{k}={v}" for k, v in (event.get("summary") or {}).items())
        click.echo(
            f"  {when}  {event.get('at', '')[:10]}  {event.get('step', ''):<18} "
            f"{event.get('event', '')}  trace {event.get('trace_id') or '-'}"
        )
        if summary:
            click.echo(f"              {summary}")
    current = body.get("current")
    if current:
        click.echo(f"now: {current.get('text')} (waiting for {current.get('waiting_for') or '-'})")


def _diagnostics(response: httpx.Response) -> str:
    """An OperationOutcome's diagnostics and paths (they name elements, never values)."""
    try:
        issues = response.json().get("issue", [])
    except ValueError:
        return response.text[:500]
    return "; ".join(
        f"{i.get('diagnostics', i.get('code'))} [{', '.join(i.get('expression', []))}]"
        for i in issues
    )


@click.group()
def referral() -> None:
    """Referrals to the referral service."""


@referral.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def send(path: Path) -> None:
    """POST a transaction Bundle, or every *.json Bundle in a directory, with a progress bar."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise click.ClickException(f"no *.json files in {path}")
    base = f"{service_url('referral')}/fhir"
    failures: list[str] = []
    with (
        httpx.Client(timeout=60, auth=service_auth()) as client,
        click.progressbar(files, label="referrals") as bar,
    ):
        for file in bar:
            problem = _send_one(client, base, file)
            if problem:
                failures.append(f"{file.name}: {problem}")
    for failure in failures:
        click.echo(failure, err=True)
    click.echo(f"{len(files) - len(failures)} of {len(files)} accepted")
    if failures:
        raise SystemExit(1)


def _send_one(client: httpx.Client, base: str, file: Path) -> str | None:
    try:
        bundle = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"not JSON ({type(exc).__name__})"
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        return "not a transaction Bundle"
    try:
        response = client.post(base, json=bundle, headers=FHIR_JSON)
    except httpx.HTTPError as exc:
        return f"the referral service at {base} does not answer ({type(exc).__name__})"
    if response.status_code == 200:
        return None
    return f"{response.status_code} {_diagnostics(response)}"
