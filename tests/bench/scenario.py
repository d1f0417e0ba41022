"""The bench's scenarios: our platform under load (+ floor + replay), and HAPI FHIR's JPA server."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import measure
import procs
from deployed import HERE, REPO, SERVICES, Deployment, deployment, start_services
from floor import measure_floor
from replay import replay

from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.infra import new_run_id, scratch_databases
from painflow_shared.testing.servers import free_port


@dataclass
class Options:
    clients: int = 8
    rate: float = 0.0
    seconds: float = 20.0
    warmup: float = 3.0
    wait: float = 60.0
    idle: float = 5.0
    workers: dict[str, int] = field(default_factory=dict)
    floor_seconds: float = 8.0
    replay: int = 10000
    replay_timeout: float = 120.0
    token: str | None = None
    hapi_warmup: float = 20.0  # unmeasured load first: the JVM's JIT compiles the hot paths
    hapi_pairs: int = 2  # ours and HAPI's loads alternate (ABBA): the machine's drift cancels


@dataclass
class HapiServer:
    url: str
    pid: int
    run_id: str
    workdir: Path


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_load(url: str, opts: Options, out: Path) -> dict[str, Any]:
    """The load generator in its own process; its samples and CPU."""
    argv = [sys.executable, str(HERE / "loadgen.py"), "--url", url, "--out", str(out)]
    argv += ["--clients", str(opts.clients), "--seconds", str(opts.seconds)]
    argv += ["--warmup", str(opts.warmup), "--rate", str(opts.rate)]
    env = dict(os.environ)
    if opts.token:
        env["PAINFLOW_TOKEN"] = opts.token  # not on the command line: ps would show it
    subprocess.run(argv, env=env, check=True, timeout=opts.warmup + opts.seconds + 120)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _headers(opts: Options) -> dict[str, str]:
    h = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}
    if opts.token:
        h["authorization"] = f"Bearer {opts.token}"
    return h


def prime(dep: Deployment, opts: Options) -> None:
    """One referral all the way to assessment: topics exist, every consumer is in its group."""
    body = json.dumps(referral_bundle())
    response = httpx.post(dep.fhir("referral"), content=body, headers=_headers(opts), timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"the first referral was not accepted: {response.status_code}")
    deadline = time.monotonic() + 90
    while measure.inbox_total(dep, "assessment") < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the first referral never reached assessment in 90 s")
        time.sleep(0.3)
    time.sleep(1.0)  # the other consumers settle too


RUN_DIR = Path(os.environ.get("PAINFLOW_RUN_DIR", REPO / ".run"))


def _readers(dep: Deployment) -> dict[str, Any]:
    readers: dict[str, Any] = {
        "postgres_backends": lambda: procs.backends_cpu(f"painflow_test_{dep.run_id}_")
    }
    local = dep.kafka.split(",")[0].rsplit(":", 1)[0] in ("127.0.0.1", "localhost")
    broker = procs.broker_pid(RUN_DIR) if local else None
    if broker is not None:  # `make infra-up`'s broker: shared with anything else using it
        readers["kafka_broker"] = lambda: procs.tree_cpu(broker)
    return readers


def platform_scenario(
    admin: str, kafka: str, opts: Options, hapi: HapiServer | None = None
) -> dict[str, Any]:
    with deployment(admin, kafka, authenticated=bool(opts.token)) as dep:
        workers = ",".join(f"{k}={v}" for k, v in opts.workers.items())
        say(f"starting the four services as processes (uvicorn workers {workers}) ...")
        start_services(dep, opts.workers, SERVICES)
        prime(dep, opts)
        report = measured_load(dep, opts) if hapi is None else side_by_side(dep, hapi, opts)
        if opts.replay:
            say(f"replay: {opts.replay} events into the assessment consumer ...")
            report["replay"] = replay(dep, opts.replay, opts.replay_timeout)
    if opts.floor_seconds:
        say("in-process floor (parse + validate + commit + outbox; no HTTP, no Kafka) ...")
        report["floor"] = measure_floor(admin, kafka, opts.floor_seconds)
        floor_rate = report["floor"]["referrals_per_second"]
        ours = report["load"]["accepted_per_second"]
        report["ratio_to_floor"] = round(ours / floor_rate, 3) if floor_rate else None
    report["machine"] = machine_facts()
    return report


def measured_load(dep: Deployment, opts: Options) -> dict[str, Any]:
    pids, readers = dep.pids(), _readers(dep)
    say(f"idle CPU for {opts.idle:g} s ...")
    c0 = procs.cpu_snapshot(pids, readers)
    time.sleep(opts.idle)
    idle = procs.cpu_delta(c0, procs.cpu_snapshot(pids, readers))
    idle_rate = {name: cpu / opts.idle for name, cpu in idle.items()}
    sql0, inbox0 = measure.sql_counts(dep.sql_dir()), _inboxes(dep)
    say(_describe(opts))
    cpu0, t0 = procs.cpu_snapshot(pids, readers), time.monotonic()
    load = run_load(dep.fhir("referral"), opts, dep.workdir / "samples.json")
    samples = load.pop("samples")
    accepted_all = [s for s in samples if s["service_request_id"]]
    events = measure.events_of(dep, [s["service_request_id"] for s in accepted_all])
    event_ids = [e[0] for evs in events.values() for e in evs]
    say(f"load done: {len(accepted_all)} accepted; waiting for assessment (<= {opts.wait:g} s)")
    waited = measure.wait_handled(dep, "assessment", event_ids, opts.wait)
    time.sleep(1.0)  # the SQL counters are written every 0.5 s
    elapsed = time.monotonic() - t0
    cpu = procs.cpu_delta(cpu0, procs.cpu_snapshot(pids, readers))
    sql = measure.diff(measure.sql_counts(dep.sql_dir()), sql0)
    inbox = {s: n - inbox0[s] for s, n in _inboxes(dep).items()}
    window = [s for s in samples if opts.warmup <= s["offset"] < opts.warmup + opts.seconds]
    accepted = [s for s in window if s["service_request_id"]]
    report: dict[str, Any] = {
        "run_id": dep.run_id,
        "load": _load_figures(load, window, accepted, opts),
        "http_ms": measure.distribution([s["seconds"] for s in accepted]),
        "e2e": measure.end_to_end(dep, accepted, events),
        "drain_seconds": round(waited, 1),
        "sql": _sql_figures(sql, inbox, len(samples)),
        "cpu": _cpu_figures(cpu, idle_rate, elapsed, len(accepted_all), load["cpu_seconds"]),
        "events_handled": inbox,
    }
    return report


def _describe(opts: Options) -> str:
    closed = f"closed loop, {opts.clients} clients"
    pattern = f"open loop at {opts.rate:g}/s" if opts.rate else closed
    return f"load: {pattern}, {opts.warmup:g} s warm-up + {opts.seconds:g} s ..."


def _inboxes(dep: Deployment) -> dict[str, int]:
    return {s: measure.inbox_total(dep, s) for s in measure.DOWNSTREAM}


Samples = list[dict[str, Any]]


def _load_figures(
    load: dict[str, Any], window: Samples, accepted: Samples, opts: Options
) -> dict[str, Any]:
    errors: dict[str, int] = {}
    for s in window:
        if not s["service_request_id"]:
            errors[s["status"]] = errors.get(s["status"], 0) + 1
    return {
        "mode": load["mode"],
        "clients": opts.clients if not opts.rate else None,
        "offered_per_second": opts.rate or None,
        "seconds": opts.seconds,
        "warmup": opts.warmup,
        "requests": len(window),
        "requests_incl_warmup_and_late": load["sent"],
        "loadgen_wall_seconds": load["wall_seconds"],
        "accepted": len(accepted),
        "accepted_per_second": _served_rate(accepted, opts),
        "errors": errors,
        "dropped_over_inflight_cap": load["dropped"],
        "loadgen_cpu_cores": round(load["cpu_seconds"] / max(load["wall_seconds"], 1e-9), 3),
    }


def _served_rate(accepted: Samples, opts: Options) -> float:
    """Accepted referrals per second of the window, or of the time their answers took to come
    (open loop past saturation: the answers to the window's sends arrive long after it)."""
    if not accepted:
        return 0.0
    last = max(s["offset"] + s["seconds"] for s in accepted) - opts.warmup
    return round(len(accepted) / max(opts.seconds, last), 2)


def _sql_figures(sql: dict[str, Any], inbox: dict[str, int], requests: int) -> dict[str, Any]:
    referral = sql.get("referral")
    figures: dict[str, Any] = {}
    if referral is not None and requests:
        kinds = measure.by_who(referral, "request")
        figures["per_referral_post"] = round(sum(kinds.values()) / requests, 2)
        figures["per_referral_post_by_kind"] = {k: round(n / requests, 2) for k, n in kinds.items()}
        relay = measure.by_who(referral, "relay")
        figures["referral_relay_per_referral"] = round(sum(relay.values()) / requests, 2)
    for service in measure.DOWNSTREAM:
        n = inbox.get(service, 0)
        if n and service in sql:
            kinds = measure.by_who(sql[service], "consumer")
            figures[f"per_{service}_event"] = round(sum(kinds.values()) / n, 2)
            figures[f"per_{service}_event_by_kind"] = {k: round(c / n, 2) for k, c in kinds.items()}
    return figures


def _cpu_figures(
    cpu: dict[str, float], idle: dict[str, float], elapsed: float, referrals: int, loadgen: float
) -> dict[str, Any]:
    """CPU ms per referral of each process over load + drain, also with its idle CPU taken out
    (a process that spins when idle would otherwise look expensive per referral)."""
    if not referrals:
        return {"error": "no referral accepted"}
    raw = {name: round(1000 * s / referrals, 2) for name, s in cpu.items()}
    net = {
        name: round(1000 * max(s - idle.get(name, 0.0) * elapsed, 0.0) / referrals, 2)
        for name, s in cpu.items()
    }
    raw["loadgen"] = net["loadgen"] = round(1000 * loadgen / referrals, 2)
    outside = ("loadgen", "kafka_broker")  # the total compares with rounds before the broker's
    return {
        "ms_per_referral": raw,
        "ms_per_referral_net_of_idle": net,
        "ms_per_referral_total_excl_loadgen": round(
            sum(v for k, v in raw.items() if k not in outside), 2
        ),
        "ms_per_referral_all_processes": round(sum(raw.values()), 2),
        "idle_cores": {name: round(rate, 4) for name, rate in idle.items()},
        "window_seconds": round(elapsed, 1),
        "cores_busy": {name: round(s / elapsed, 3) for name, s in cpu.items()},
    }


def machine_facts() -> dict[str, Any]:
    import platform

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def side_by_side(dep: Deployment, hapi: HapiServer, opts: Options) -> dict[str, Any]:
    """Our load and HAPI's, alternating in pairs (ours, HAPI; then HAPI, ours; ...), both servers
    up and the other one idle during each load. This machine's speed drifts by up to 2x within
    minutes, so a ratio from one run of each, minutes apart, measured the minutes as much as the
    servers; each pair's ratio is from adjacent minutes, and the report's is their median. The
    report's other figures are of our first load; every pair is in ``hapi["pairs"]``."""
    _warm_hapi(hapi, opts)
    runs = [_pair(dep, hapi, opts, ours_first=n % 2 == 0) for n in range(max(opts.hapi_pairs, 1))]
    pairs = []
    for ours, theirs, order, probe in runs:
        rates = ours["load"]["accepted_per_second"], theirs["accepted_per_second"]
        pairs.append(
            {
                "order": order,
                "ours_per_second": rates[0],
                "hapi_per_second": rates[1],
                "ratio": round(rates[0] / rates[1], 3) if rates[1] else None,
                "speed_probe_cpu_ms": probe,
            }
        )
    report, first_hapi = runs[0][0], runs[0][1]
    ratios = [p["ratio"] for p in pairs if p["ratio"] is not None]
    report["hapi"] = {**first_hapi, "pairs": pairs}
    report["ratio_to_hapi"] = round(statistics.median(ratios), 3) if ratios else None
    return report


def _pair(
    dep: Deployment, hapi: HapiServer, opts: Options, ours_first: bool
) -> tuple[dict[str, Any], dict[str, Any], str, float]:
    """One load of ours and one of HAPI's, in this order, after a speed probe."""
    probe = measure.speed_probe()
    if ours_first:
        ours = measured_load(dep, opts)
        return ours, _hapi_load(hapi, opts), "ours, HAPI", probe
    theirs = _hapi_load(hapi, opts)
    return measured_load(dep, opts), theirs, "HAPI, ours", probe


@contextmanager
def hapi_server(admin: str) -> Iterator[HapiServer]:
    """HAPI FHIR's JPA server on its own fresh database; started and stopped (by PID) here."""
    script = REPO / "deploy" / "hapi" / "hapi.sh"
    subprocess.run(["bash", str(script), "build"], check=True, timeout=1800)
    run_id = new_run_id()
    with scratch_databases(admin, run_id, ("hapi",)) as urls:
        port, started = free_port(), procs.Started()
        host_db = urls["hapi"].split("@", 1)[1]  # 127.0.0.1:55432/painflow_test_<run>_hapi
        env = dict(os.environ, HAPI_PORT=str(port), HAPI_JDBC_URL=f"jdbc:postgresql://{host_db}")
        workdir = Path(tempfile.mkdtemp(prefix=f"painflow-bench-hapi-{run_id}-"))
        say("starting HAPI FHIR's JPA server (Hibernate creates its schema: ~20-60 s) ...")
        log = workdir / f"hapi-{run_id}.log"
        pid = started.start("hapi", ["bash", str(script), "run"], env, log)
        try:
            url = f"http://127.0.0.1:{port}/fhir"
            procs.wait_ready({"hapi": f"{url}/metadata"}, started.alive, timeout=240)
            yield HapiServer(url, pid, run_id, workdir)
        except BaseException:
            say(f"HAPI's log is kept in {workdir}")
            raise
        finally:
            started.stop_all()
    shutil.rmtree(workdir, ignore_errors=True)


def _warm_hapi(hapi: HapiServer, opts: Options) -> None:
    if opts.hapi_warmup:
        say(f"HAPI: {opts.hapi_warmup:g} s of unmeasured load (JIT warm-up) ...")
        jit = Options(**{**opts.__dict__, "rate": 0.0, "warmup": 0.0, "token": None})
        jit.seconds = opts.hapi_warmup
        run_load(hapi.url, jit, hapi.workdir / f"hapi-jit-{hapi.run_id}.json")


def _hapi_load(hapi: HapiServer, opts: Options) -> dict[str, Any]:
    hapi_opts = Options(**{**opts.__dict__, "token": None})  # HAPI runs without security
    readers = {"postgres_backends": lambda: procs.backends_cpu(f"painflow_test_{hapi.run_id}_")}
    say("HAPI " + _describe(opts))
    c0 = procs.cpu_snapshot({"hapi": hapi.pid}, readers)
    load = run_load(hapi.url, hapi_opts, hapi.workdir / f"hapi-samples-{new_run_id()}.json")
    cpu = procs.cpu_delta(c0, procs.cpu_snapshot({"hapi": hapi.pid}, readers))
    samples = load.pop("samples")
    window = [s for s in samples if opts.warmup <= s["offset"] < opts.warmup + opts.seconds]
    accepted = [s for s in window if s["status"] == "200"]
    done = len([s for s in samples if s["status"] == "200"])
    figures = _load_figures(load, window, accepted, opts)
    figures["http_ms"] = measure.distribution([s["seconds"] for s in accepted])
    if done:
        figures["cpu_ms_per_bundle"] = {k: round(1000 * v / done, 2) for k, v in cpu.items()}
    return figures
