"""Referral intake benchmark: throughput and latency, end to end over Kafka.

The in-process variant, kept for comparison with the figures taken before the deployed bench
(``make bench`` now runs tests/bench/bench_platform.py). The four services run in this
process exactly as the integration tests' ``platform`` fixture runs them: each on a fresh
PostgreSQL database and on Kafka topics unique to this run, all removed at the end.

N client threads (one ``httpx.Client`` each) POST referral transaction Bundles to the referral
service for a fixed time after a warm-up. Reported: accepted referrals and their rate, HTTP
latency, errors by status, and the end-to-end latency from the start of the POST to the moment
the assessment service's consumer handled the referral's event (its ``event_inbox`` row), split
into the stages the timestamps in the databases allow (POST -> outbox row -> published ->
handled). The last line of output is one JSON object with every figure.

This file reports figures; it asserts nothing about speed, and pytest does not collect it (its
name is not test_*.py).

    .venv/bin/python tests/bench/bench_referrals.py [--clients 8] [--seconds 20] [--warmup 3]
                                                    [--wait 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from measure import distribution  # the deployed bench's figures, the same percentiles
from sqlalchemy import Engine, event, func
from sqlmodel import Session, col, select

from painflow_assessment.tables import IntakeItem
from painflow_referral.tables import ReferralCase
from painflow_shared.events.inbox import InboxEntry
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.settings import SharedSettings
from painflow_shared.testing.factories import referral_bundle, response_location
from painflow_shared.testing.fixtures import service_settings
from painflow_shared.testing.infra import (
    kafka_bootstrap,
    new_run_id,
    pg_admin_url,
    require_tcp,
    scratch_databases,
)
from painflow_shared.testing.servers import RunningServer, start_server

FHIR_JSON = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}
NOISY_LOGGERS = (
    "kafka",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "alembic",
    "httpx",
    "httpcore",
    "opentelemetry",
    "sqlalchemy",
)
CHUNK = 2000  # ids per IN (...) query

log = logging.getLogger("bench")


# --- the platform ------------------------------------------------------------------------


def _factories() -> dict[str, tuple[Callable[[Any], Any], type[SharedSettings]]]:
    """The same four services, in the same order, as the ``platform`` fixture starts."""
    from painflow_assessment.app import create_app as assessment_app
    from painflow_assessment.settings import AssessmentSettings
    from painflow_followup.app import create_app as followup_app
    from painflow_followup.settings import FollowupSettings
    from painflow_referral.app import create_app as referral_app
    from painflow_referral.settings import ReferralSettings
    from painflow_scheduling.app import create_app as scheduling_app
    from painflow_scheduling.settings import SchedulingSettings

    return {
        "referral": (referral_app, ReferralSettings),
        "assessment": (assessment_app, AssessmentSettings),
        "scheduling": (scheduling_app, SchedulingSettings),
        "followup": (followup_app, FollowupSettings),
    }


@dataclass
class Platform:
    run_id: str
    kafka: str
    servers: dict[str, RunningServer] = field(default_factory=dict)
    settings: dict[str, SharedSettings] = field(default_factory=dict)

    def fhir(self, service: str) -> str:
        return f"{self.servers[service].url}/fhir"

    def runtime(self, service: str) -> Any:
        return self.servers[service].app.state.runtime


@contextmanager
def running_platform(admin_url: str, kafka: str) -> Iterator[Platform]:
    """Fresh databases and run-unique topics; servers stopped, databases and topics dropped."""
    run_id = new_run_id()
    plat = Platform(run_id=run_id, kafka=kafka)
    with scratch_databases(admin_url, run_id, tuple(_factories())) as urls:
        try:
            for name, (factory, cls) in _factories().items():
                settings = service_settings(
                    name,
                    cls,
                    run_id=run_id,
                    database_url=urls[name],
                    kafka=kafka,
                    log_level="WARNING",
                )
                plat.settings[name] = settings
                plat.servers[name] = start_server(factory(settings), settings.port)
            quiet_logs(starting=True)  # the services' lifespan reconfigured the root logger
            yield plat
        finally:
            for server in reversed(list(plat.servers.values())):
                server.stop()
            _drop_kafka_objects(plat)


def _drop_kafka_objects(plat: Platform) -> None:
    """Best effort: this run's topics and consumer groups (tests leave theirs; we tidy up)."""
    if not plat.settings:
        return
    from kafka import KafkaAdminClient

    any_settings = next(iter(plat.settings.values()))
    prefix = any_settings.topic_prefix
    groups = [s.consumer_group for s in plat.settings.values()]
    try:
        config = any_settings.kafka_client_config()
        admin = KafkaAdminClient(client_id=f"bench-{plat.run_id}", **config)
    except Exception as exc:
        log.warning("could not reach Kafka to delete this run's topics: %s", exc)
        return
    try:
        admin.delete_groups(groups)  # returns per-group errors (e.g. never joined); not raised
        topics = [t for t in admin.list_topics() if t.startswith(prefix)]
        if topics:
            admin.delete_topics(topics)
    except Exception as exc:
        log.warning("could not delete this run's topics/groups (%s): %s", type(exc).__name__, exc)
    finally:
        admin.close()


class StartupNoise(logging.Filter):
    """Drops the warnings that starting four apps in one process always gives. While starting:
    kafka's "no partition metadata" (the topics do not exist yet) and "task ran for" (its
    network loop waits for the GIL while the apps migrate). Always: OpenTelemetry's "already
    instrumented" (each app instruments the same libraries). Errors pass. A logger's filter
    survives the services' ``configure_logging``, which resets levels in every lifespan."""

    LOGGERS = (
        "kafka.coordinator.assignors.range",
        "kafka.net.selector",
        "opentelemetry.instrumentation.instrumentor",
    )

    def __init__(self) -> None:
        super().__init__()
        self.starting = True

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return record.name != "opentelemetry.instrumentation.instrumentor" and not self.starting


STARTUP_NOISE = StartupNoise()


def quiet_logs(*, starting: bool = False) -> None:
    """WARNING for the root and the noisy libraries; startup's expected warnings filtered."""
    logging.getLogger().setLevel(logging.WARNING)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    STARTUP_NOISE.starting = starting
    for name in StartupNoise.LOGGERS:
        logger = logging.getLogger(name)
        if STARTUP_NOISE not in logger.filters:
            logger.addFilter(STARTUP_NOISE)


class WarningCounter(logging.Handler):
    """Counts the warnings and errors logged during the run, by logger, for the report."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}"] += 1


# --- the load ----------------------------------------------------------------------------


@dataclass
class Sample:
    started: float  # time.monotonic() at send
    sent_at: datetime  # wall clock (UTC) at send
    seconds: float  # HTTP round trip
    status: str  # "200", "422", ... or the exception's class name
    service_request_id: str | None  # set when accepted


def post_referral(client: httpx.Client) -> Sample:
    body = json.dumps(referral_bundle()).encode("utf-8")
    sent_at = datetime.now(UTC)
    started = time.monotonic()
    t0 = time.perf_counter()
    try:
        response = client.post("", content=body, headers=FHIR_JSON)
    except httpx.HTTPError as exc:
        return Sample(started, sent_at, time.perf_counter() - t0, type(exc).__name__, None)
    seconds = time.perf_counter() - t0
    sr_id = None
    if response.status_code == 200:
        try:
            sr_id = response_location(response.json(), "ServiceRequest").split("/", 1)[1]
        except (ValueError, KeyError, AssertionError):
            return Sample(started, sent_at, seconds, "200-unreadable", None)
    return Sample(started, sent_at, seconds, str(response.status_code), sr_id)


def run_load(
    url: str, clients: int, warmup: float, seconds: float
) -> tuple[list[Sample], float, float]:
    """Every client POSTs back to back until the end; returns samples, window start and end."""
    begin = time.monotonic()
    window_start, window_end = begin + warmup, begin + warmup + seconds
    results: list[list[Sample]] = [[] for _ in range(clients)]
    stop = threading.Event()

    def worker(mine: list[Sample]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set() and time.monotonic() < window_end:
                mine.append(post_referral(client))

    threads = [
        threading.Thread(target=worker, args=(results[i],), name=f"bench-client-{i}", daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        stop.set()
    return [s for mine in results for s in mine], window_start, window_end


class StatementCounter:
    """Counts the SQL statements an engine runs, by who ran them: the outbox relay, an event
    consumer, or a request (any other thread: the HTTP handlers' worker threads)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_: object) -> None:
        name = threading.current_thread().name
        who = (
            "relay"
            if name == "outbox-relay"
            else "consumer"
            if name.startswith("consumer-")
            else "request"
        )
        with self._lock:
            self.counts[who] += 1


# --- what the databases say --------------------------------------------------------------


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def intake_count(plat: Platform, ids: list[str]) -> int:
    total = 0
    with Session(plat.runtime("assessment").engine) as session:
        for part in _chunks(ids):
            query = select(func.count()).select_from(IntakeItem)
            query = query.where(col(IntakeItem.service_request_id).in_(part))
            total += int(session.exec(query).one())
    return total


def wait_until_handled(plat: Platform, ids: list[str], timeout: float) -> tuple[int, float]:
    """Poll until every id is on the assessment worklist; returns (found, seconds waited)."""
    started = time.monotonic()
    found = intake_count(plat, ids)
    while found < len(ids) and time.monotonic() - started < timeout:
        time.sleep(0.2)
        found = intake_count(plat, ids)
    return found, time.monotonic() - started


@dataclass
class Timeline:
    """What the databases recorded for one referral (all UTC, same host clock)."""

    outbox_created: datetime | None = None  # the event's row written (in the POST's transaction)
    outbox_sent: datetime | None = None  # the relay saw the broker's ack
    handled: datetime | None = None  # assessment's consumer committed its effects + inbox row
    via: str = ""  # "inbox" or "intake" (IntakeItem.updated_at, if no inbox row matched)


def timelines(plat: Platform, ids: list[str]) -> dict[str, Timeline]:
    """Per ServiceRequest id: its events' outbox times and the earliest assessment handling.

    An event is keyed by the patient's id; every bench referral has a new patient (fresh MRN),
    so the referral's case gives the patient and the patient's key gives the referral's events.
    """
    found: dict[str, Timeline] = {sr: Timeline() for sr in ids}
    event_to_sr: dict[str, str] = {}
    with Session(plat.runtime("referral").engine) as session:
        for part in _chunks(ids):
            rows = session.exec(
                select(
                    ReferralCase.service_request_id,
                    OutboxMessage.event_id,
                    OutboxMessage.created_at,
                    OutboxMessage.sent_at,
                )
                .join(OutboxMessage, col(OutboxMessage.key) == col(ReferralCase.patient_id))
                .where(col(ReferralCase.service_request_id).in_(part))
            ).all()
            for sr, event_id, created, sent in rows:
                event_to_sr[event_id] = sr
                line = found[sr]
                line.outbox_created = _earliest(line.outbox_created, created)
                line.outbox_sent = _earliest(line.outbox_sent, sent)
    consumer = plat.settings["assessment"].consumer_group
    with Session(plat.runtime("assessment").engine) as session:
        events = list(event_to_sr)
        for part in _chunks(events):
            inbox = session.exec(
                select(InboxEntry.event_id, InboxEntry.handled_at).where(
                    InboxEntry.consumer == consumer, col(InboxEntry.event_id).in_(part)
                )
            ).all()
            for event_id, handled_at in inbox:
                line = found[event_to_sr[event_id]]
                line.handled, line.via = _earliest(line.handled, handled_at), "inbox"
        missing = [sr for sr, line in found.items() if line.handled is None]
        for part in _chunks(missing):
            items = session.exec(
                select(IntakeItem.service_request_id, IntakeItem.updated_at).where(
                    col(IntakeItem.service_request_id).in_(part)
                )
            ).all()
            for sr, updated_at in items:
                found[sr].handled, found[sr].via = updated_at, "intake"
    return found


def _earliest(current: datetime | None, new: datetime | None) -> datetime | None:
    if new is not None and new.tzinfo is None:
        new = new.replace(tzinfo=UTC)
    if current is None:
        return new
    if new is None:
        return current
    return min(current, new)


# --- figures -----------------------------------------------------------------------------


def machine_facts(admin_url: str) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "nproc": _nproc(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": _cpu_model(),
    }
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["postgres"] = row[0] if row else None
            row = conn.execute("SHOW fsync").fetchone()
            facts["postgres_fsync"] = row[0] if row else None
    except psycopg.Error:
        facts["postgres"] = None
    return facts


def _nproc() -> int | None:
    """What ``nproc`` prints: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def print_report(report: dict[str, Any]) -> None:
    m, load, http, e2e = report["machine"], report["load"], report["http_ms"], report["e2e"]
    print()
    print("Painflow referral intake benchmark")
    print("=" * 72)
    print(f"machine   nproc={m['nproc']}  cpu={m['cpu'] or '?'}  python={m['python']}")
    print(
        f"          postgres={m.get('postgres')} (fsync={m.get('postgres_fsync')})  "
        f"kafka={report['kafka']}"
    )
    print(
        f"load      clients={load['clients']}  seconds={load['seconds']}  "
        f"warmup={load['warmup']} s (not counted)  run={report['run_id']}"
    )
    print("-" * 72)
    print(f"{'requests sent (window)':<34}{load['requests']:>12}")
    print(f"{'accepted (200 + ServiceRequest)':<34}{load['accepted']:>12}")
    print(f"{'accepted per second':<34}{load['accepted_per_second']:>12.1f}")
    errors = load["errors"] or {}
    print(
        f"{'errors':<34}{sum(errors.values()):>12}  "
        + (", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "")
    )
    print(f"{'outbox backlog at end of load':<34}{_fmt(load['outbox_backlog_at_end']):>12}")
    print(
        f"{'on worklist at end of load':<34}{_fmt(load['on_worklist_at_end']):>12}"
        f"  of {load['accepted']}"
    )
    print("-" * 72)
    header = f"{'latency (ms)':<34}{'n':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"
    print(header)
    rows = [("HTTP POST (accepted)", http)]
    rows += [
        (f"end to end: {label}", e2e["stages"][key])
        for key, label in (
            ("post_to_outbox", "POST start -> outbox row"),
            ("outbox_to_published", "outbox row -> published"),
            ("published_to_handled", "published -> assessment"),
        )
    ]
    rows.insert(1, ("end to end: POST -> assessment", e2e["latency_ms"]))
    for label, d in rows:
        print(
            f"{label:<34}{d['n']:>7}{_fmt(d['p50_ms']):>9}{_fmt(d['p95_ms']):>9}"
            f"{_fmt(d['p99_ms']):>9}{_fmt(d.get('max_ms')):>9}"
        )
    print("-" * 72)
    print(
        f"{'not handled within the wait':<34}{e2e['not_handled']:>12}  "
        f"(waited {e2e['waited_seconds']:.1f} s of {e2e['wait_limit_seconds']:.0f} s)"
    )
    if e2e["handled_via_intake_only"]:
        print(f"{'handled, timed by intake row':<34}{e2e['handled_via_intake_only']:>12}")
    consumers = report.get("consumers") or {}
    if consumers:
        print("assessment consumer  " + "  ".join(f"{k}={v}" for k, v in consumers.items()))
    proc, sql = report.get("process") or {}, report.get("sql") or {}
    if proc:
        print(
            f"this process used {proc['cpu_cores_used']} cores of {m['nproc']} during the load;"
            f" load average (1 min) {proc['loadavg_1m_before_load']} before,"
            f" {proc['loadavg_1m_after_load']} after"
        )
    if sql:
        print(
            f"SQL statements: {_fmt(sql['referral_per_request'])} per referral POST,"
            f" {_fmt(sql['assessment_consumer_per_event'])} per assessment event"
        )
    for name, count in sorted((report.get("log_warnings") or {}).items()):
        print(f"logged during the load: {count} x {name}")
    print("=" * 72)
    print(json.dumps(report, separators=(",", ":"), sort_keys=True, default=str))


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="not counted (default 3)")
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="how long to wait for the consumers after the load (default 60)",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.warmup < 0 or args.wait < 0:
        parser.error("--clients must be >= 1, --seconds > 0, --warmup and --wait >= 0")
    return args


def bench(plat: Platform, args: argparse.Namespace) -> dict[str, Any]:
    url = plat.fhir("referral")
    # Prime: topics created, every consumer in its group, so the load measures steady state.
    with httpx.Client(base_url=url, timeout=30) as client:
        first = post_referral(client)
    if first.service_request_id is None:
        raise RuntimeError(f"the first referral was not accepted: {first.status}")
    primed, waited = wait_until_handled(plat, [first.service_request_id], 60.0)
    if not primed:
        raise RuntimeError(f"the first referral never reached assessment in {waited:.0f} s")
    quiet_logs()  # from here on kafka's warnings are news
    counter = WarningCounter()
    logging.getLogger().addHandler(counter)
    try:
        return _measure(plat, args, url, counter)
    finally:
        logging.getLogger().removeHandler(counter)


def _measure(
    plat: Platform, args: argparse.Namespace, url: str, counter: WarningCounter
) -> dict[str, Any]:
    print(
        f"load: {args.clients} clients, {args.warmup:g} s warm-up + {args.seconds:g} s ...",
        file=sys.stderr,
        flush=True,
    )
    consumers = plat.runtime("assessment").consumers
    handled_before = sum(c.stats.handled for c in consumers)
    load_before = os.getloadavg()
    cpu_before, wall_before = _cpu_seconds(), time.monotonic()
    with (
        StatementCounter(plat.runtime("referral").engine) as referral_sql,
        StatementCounter(plat.runtime("assessment").engine) as assessment_sql,
    ):
        samples, window_start, window_end = run_load(url, args.clients, args.warmup, args.seconds)
    cpu_cores = (_cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
    handled_in_load = sum(c.stats.handled for c in consumers) - handled_before
    backlog = plat.runtime("referral").relay.pending()
    measured = [s for s in samples if window_start <= s.started < window_end]
    accepted = [s for s in measured if s.service_request_id is not None]
    ids = [s.service_request_id for s in accepted if s.service_request_id]
    all_ids = [s.service_request_id for s in samples if s.service_request_id]
    on_worklist = intake_count(plat, ids)

    print(
        f"load done: {len(accepted)} accepted; waiting for assessment (<= {args.wait:g} s) ...",
        file=sys.stderr,
        flush=True,
    )
    found, waited = wait_until_handled(plat, all_ids, args.wait)
    lines = timelines(plat, ids)

    e2e, to_outbox, to_published, to_handled = [], [], [], []
    for sample in accepted:
        line = lines[str(sample.service_request_id)]
        if line.handled is not None:
            e2e.append((line.handled - sample.sent_at).total_seconds())
        if line.outbox_created is not None:
            to_outbox.append((line.outbox_created - sample.sent_at).total_seconds())
            if line.outbox_sent is not None:
                to_published.append((line.outbox_sent - line.outbox_created).total_seconds())
        if line.outbox_sent is not None and line.handled is not None and line.via == "inbox":
            to_handled.append((line.handled - line.outbox_sent).total_seconds())

    errors = Counter(s.status for s in measured if s.service_request_id is None)
    stats = [c.stats for c in plat.runtime("assessment").consumers]
    return {
        "run_id": plat.run_id,
        "kafka": plat.kafka,
        "load": {
            "clients": args.clients,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "requests": len(measured),
            "requests_incl_warmup": len(samples),
            "accepted": len(accepted),
            "accepted_per_second": round(len(accepted) / args.seconds, 2),
            "errors": dict(errors),
            "outbox_backlog_at_end": backlog,
            "on_worklist_at_end": on_worklist,
        },
        "http_ms": distribution([s.seconds for s in accepted]),
        "e2e": {
            "latency_ms": distribution(e2e),
            "stages": {
                "post_to_outbox": distribution(to_outbox),
                "outbox_to_published": distribution(to_published),
                "published_to_handled": distribution(to_handled),
            },
            "not_handled": len(ids) - len(e2e),
            "not_handled_incl_warmup": len(all_ids) - found,
            "handled_via_intake_only": sum(1 for line in lines.values() if line.via == "intake"),
            "waited_seconds": round(waited, 2),
            "wait_limit_seconds": args.wait,
        },
        "consumers": {
            "handled": sum(s.handled for s in stats),
            "retries": sum(s.retries for s in stats),
            "dead_lettered": sum(s.dead_lettered for s in stats),
            "duplicates": sum(s.duplicates for s in stats),
        },
        "log_warnings": dict(counter.counts),
        "process": {
            # CPU this process used during the load (warm-up included), in cores: ~1.0 with
            # nproc > 1 means the one interpreter (its GIL) is the limit, not the machine
            "cpu_cores_used": round(cpu_cores, 2),
            "loadavg_1m_before_load": round(load_before[0], 2),
            "loadavg_1m_after_load": round(os.getloadavg()[0], 2),
        },
        "sql": {
            "referral_per_request": _per(referral_sql.counts["request"], len(samples)),
            "referral_relay_total": referral_sql.counts["relay"],
            "assessment_consumer_per_event": _per(
                assessment_sql.counts["consumer"], handled_in_load
            ),
        },
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _per(count: int, n: int) -> float | None:
    return round(count / n, 1) if n > 0 else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logs(starting=True)
    admin = pg_admin_url("Run `make infra-up`.")
    kafka = kafka_bootstrap()
    require_tcp(kafka, "Kafka", "Run `make infra-up`.")
    facts = machine_facts(admin)
    print(
        "starting the four services (fresh databases, run-unique topics) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    with running_platform(admin, kafka) as plat:
        report = bench(plat, args)
    report["machine"] = facts
    report["total_seconds"] = round(time.monotonic() - started, 1)
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
