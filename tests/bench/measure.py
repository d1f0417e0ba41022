"""What the databases and the counters say after a run: the path of each referral, SQL counts.

POST -> consumer handled is read from the databases (the services' own timestamps, same host
clock): the referral's case names its patient, the patient's key names the referral's events in
the outbox, and each downstream service's ``event_inbox`` row (its consumer group) says when that
consumer committed the event's effects. The earliest such row per referral and consumer counts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from deployed import Deployment

DOWNSTREAM = ("assessment", "scheduling", "followup")


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no data."""
    if not values:
        return None
    data = sorted(values)
    k = (len(data) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def distribution(seconds: list[float]) -> dict[str, float | int | None]:
    ms = [s * 1000.0 for s in seconds]
    figures: dict[str, float | int | None] = {"n": len(ms)}
    for p in (50, 95, 99):
        value = percentile(ms, p)
        figures[f"p{p}_ms"] = None if value is None else round(value, 1)
    figures["max_ms"] = round(max(ms), 1) if ms else None
    return figures


def sql_counts(directory: Path) -> dict[str, Counter[str]]:
    """Statements so far, per service, keyed ``who:KIND`` (summed over worker processes)."""
    counts: dict[str, Counter[str]] = {}
    for path in directory.glob("*.json"):
        service = path.name.split("-", 1)[0]
        try:
            counts.setdefault(service, Counter()).update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # replaced while read: the next reading has it
    return counts


Counts = dict[str, Counter[str]]


def diff(after: Counts, before: Counts) -> Counts:
    return {s: after[s] - before.get(s, Counter()) for s in after}


def by_who(counts: Counter[str], who: str) -> dict[str, int]:
    return {k.split(":", 1)[1]: n for k, n in counts.items() if k.startswith(f"{who}:")}


def events_of(dep: Deployment, sr_ids: list[str]) -> dict[str, list[tuple[str, datetime, Any]]]:
    """Per ServiceRequest id: its events (event id, outbox created_at, sent_at)."""
    found: dict[str, list[tuple[str, datetime, Any]]] = {sr: [] for sr in sr_ids}
    with psycopg.connect(dep.db("referral")) as conn:
        rows = conn.execute(
            "SELECT rc.service_request_id, o.event_id, o.created_at, o.sent_at"
            " FROM referral_case rc JOIN event_outbox o ON o.key = rc.patient_id"
            " WHERE rc.service_request_id = ANY(%s)",
            (sr_ids,),
        ).fetchall()
    for sr, event_id, created, sent in rows:
        found[sr].append((event_id, created, sent))
    return found


def handled_at(dep: Deployment, service: str, event_ids: list[str]) -> dict[str, datetime]:
    with psycopg.connect(dep.db(service)) as conn:
        rows = conn.execute(
            "SELECT event_id, handled_at FROM event_inbox"
            " WHERE consumer = %s AND event_id = ANY(%s)",
            (dep.consumer_group(service), event_ids),
        ).fetchall()
    return dict(rows)


def inbox_total(dep: Deployment, service: str) -> int:
    with psycopg.connect(dep.db(service)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM event_inbox WHERE consumer = %s", (dep.consumer_group(service),)
        ).fetchone()
    return int(row[0]) if row else 0


def wait_handled(dep: Deployment, service: str, event_ids: list[str], timeout: float) -> float:
    """Poll until the consumer handled every event; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if len(handled_at(dep, service, event_ids)) >= len(set(event_ids)):
            break
        time.sleep(0.5)
    return time.monotonic() - started


def end_to_end(
    dep: Deployment, accepted: list[dict[str, Any]], events: dict[str, list[tuple[str, Any, Any]]]
) -> dict[str, Any]:
    """POST start -> outbox row, -> published, and -> each consumer handled (first event)."""
    ids = [e[0] for evs in events.values() for e in evs]
    handled = {s: handled_at(dep, s, ids) for s in DOWNSTREAM}
    stages: dict[str, list[float]] = {"post_to_outbox": [], "outbox_to_published": []}
    per_consumer: dict[str, list[float]] = {s: [] for s in DOWNSTREAM}
    for sample in accepted:
        sent = sample["sent_at"]
        evs = events.get(sample["service_request_id"], [])
        if not evs:
            continue
        stages["post_to_outbox"].append(min(e[1].timestamp() for e in evs) - sent)
        published = [e[2].timestamp() - e[1].timestamp() for e in evs if e[2] is not None]
        if published:
            stages["outbox_to_published"].append(min(published))
        for service in DOWNSTREAM:
            times = [handled[service][e[0]].timestamp() for e in evs if e[0] in handled[service]]
            if times:
                per_consumer[service].append(min(times) - sent)
    result: dict[str, Any] = {k: distribution(v) for k, v in stages.items()}
    for service, values in per_consumer.items():
        if values:
            result[f"post_to_{service}_handled"] = distribution(values)
            result[f"post_to_{service}_handled"]["not_handled"] = len(accepted) - len(values)
    return result


def speed_probe(rounds: int = 3, loops: int = 300) -> float:
    """CPU ms of a fixed pure-Python workload (JSON, a hash, a sort), the best of ``rounds``.

    On the shared two-core machine the same code took up to twice the CPU at some minutes as at
    others (other tenants on the host's cores). The bench runs this at its start and its end: a
    run whose probe is slow ran on a slow machine, whatever its code."""
    data = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"id": str(i), "value": i * 1.5, "code": f"c{i}"}} for i in range(50)
        ],
    }
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(loops):
            text = json.dumps(data, sort_keys=True)
            hashlib.sha256(text.encode()).hexdigest()
            json.loads(text)
            sorted(text)
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)
