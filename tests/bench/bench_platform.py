"""``make bench``: referral intake as deployed, end to end over Kafka, on PostgreSQL.

The four services run as ``make up`` runs them, one process each (uvicorn; ``--workers``
per service), on fresh PostgreSQL databases and run-unique Kafka topics; the load comes from
its own asyncio process (tests/bench/loadgen.py), closed loop (``--clients``) or open loop
(``--rate``). One run prints: accepted referrals/s, HTTP p50/p95/p99, POST -> each downstream
consumer handled (read from the services' databases: outbox and inbox timestamps), SQL
statements per referral and per consumed event by kind (counted inside each service process,
tests/bench/serve_counted.py), CPU per referral of every process (and of this run's PostgreSQL
backends), each service's idle CPU, the in-process floor (tests/bench/floor.py) and our rate
as a ratio of it. Then the replay scenario (tests/bench/replay.py): N events into the assessment
consumer, events/s. With ``--hapi`` (``make bench-hapi``), HAPI FHIR's JPA server
(deploy/hapi) takes the same load, alternating with ours in ``--hapi-pairs`` pairs (ours, HAPI;
HAPI, ours), and our rate is printed as a ratio of its rate: the median of the pairs' ratios.
A fixed Python workload timed at the start and the end (``speed_probe``) tells a slow machine
from slow code. The last line is one JSON object. Every run is bounded; only processes this
bench started are stopped (by PID); databases and topics are dropped at the end.

    .venv/bin/python tests/bench/bench_platform.py [--clients 8 | --rate 100] [--seconds 20]
        [--warmup 3] [--workers referral=2] [--replay 10000] [--hapi [--hapi-pairs 2]] [--token T]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its siblings

from measure import speed_probe
from report import print_report
from scenario import Options, hapi_server, platform_scenario

from painflow_shared.testing.infra import kafka_bootstrap, pg_admin_url, require_tcp


def parse_workers(text: str) -> dict[str, int]:
    """``2`` (every service) or ``referral=2,assessment=1``."""
    if text.isdigit():
        return dict.fromkeys(("referral", "assessment", "scheduling", "followup"), int(text))
    pairs = (part.split("=", 1) for part in text.split(",") if part)
    return {name.strip(): int(n) for name, n in pairs}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=8, help="closed loop: concurrent clients")
    p.add_argument("--rate", type=float, default=0.0, help="open loop: referrals offered per s")
    p.add_argument("--seconds", type=float, default=20.0, help="load window, at most 30")
    p.add_argument("--warmup", type=float, default=3.0, help="before the window")
    p.add_argument("--wait", type=float, default=60.0, help="for the consumers after the load")
    p.add_argument("--idle", type=float, default=5.0, help="idle CPU sample before the load")
    p.add_argument("--workers", default="1", help="uvicorn workers: N, or referral=2,...")
    p.add_argument("--floor-seconds", type=float, default=8.0, help="0: no floor")
    p.add_argument("--replay", type=int, default=10000, help="events to replay; 0: none")
    p.add_argument("--replay-timeout", type=float, default=120.0)
    p.add_argument(
        "--hapi", action="store_true", help="the same load against HAPI FHIR, alternating with ours"
    )
    p.add_argument("--hapi-warmup", type=float, default=20.0, help="HAPI's JIT warm-up, s")
    p.add_argument(
        "--hapi-pairs", type=int, default=2, help="alternating loads: ours, HAPI; HAPI, ours; ..."
    )
    p.add_argument("--token", default=None, help="bearer token (else env PAINFLOW_TOKEN)")
    args = p.parse_args(argv)
    if not 0 < args.seconds <= 30 or args.clients < 1 or args.rate < 0 or args.warmup < 0:
        p.error("--seconds in (0, 30], --clients >= 1, --rate >= 0, --warmup >= 0")
    if not 1 <= args.hapi_pairs <= 4:
        p.error("--hapi-pairs in [1, 4]")
    args.token = args.token or os.environ.get("PAINFLOW_TOKEN") or None
    return args


def options(args: argparse.Namespace) -> Options:
    return Options(
        clients=args.clients,
        rate=args.rate,
        seconds=args.seconds,
        warmup=args.warmup,
        wait=args.wait,
        idle=args.idle,
        workers=parse_workers(args.workers),
        floor_seconds=args.floor_seconds,
        replay=args.replay,
        replay_timeout=args.replay_timeout,
        token=args.token,
        hapi_warmup=args.hapi_warmup,
        hapi_pairs=args.hapi_pairs,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin = pg_admin_url("Run `make infra-up`.")
    kafka = kafka_bootstrap()
    require_tcp(kafka, "Kafka", "Run `make infra-up`.")
    opts = options(args)
    started = time.monotonic()
    probe_start = speed_probe()
    with hapi_server(admin) if args.hapi else nullcontext() as hapi:
        report: dict[str, Any] = platform_scenario(admin, kafka, opts, hapi)
    report["machine"]["speed_probe_cpu_ms"] = {"start": probe_start, "end": speed_probe()}
    report["total_seconds"] = round(time.monotonic() - started, 1)
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
