"""Run the four services as child processes: foreground (`make run`) or background (`make up`).

Each service logs to .run/logs/<service>.log; the supervisor waits until every
/health/ready passes, prints where everything is, and stops every child on Ctrl-C or SIGTERM.
Only the processes it started are ever signalled (their PIDs are kept in .run/services.pid).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
RUN = Path(os.environ.get("PAINFLOW_RUN_DIR", REPO / ".run"))
SERVICES = {"referral": 8001, "assessment": 8002, "scheduling": 8003, "followup": 8004}
PIDFILE = RUN / "services.pid"


def start_children() -> dict[str, subprocess.Popen[bytes]]:
    (RUN / "logs").mkdir(parents=True, exist_ok=True)
    children = {}
    for name in SERVICES:
        env = dict(os.environ)
        prefix = name.upper()
        env.setdefault(f"{prefix}_DATABASE_URL", f"sqlite:///{RUN}/{name}.db")
        log = open(RUN / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        children[name] = subprocess.Popen(
            [sys.executable, "-m", f"painflow_{name}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,  # `make up` returns; the services stay
        )
    return children


def wait_healthy(children: dict[str, subprocess.Popen[bytes]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = set(children)
    while pending:
        for name in list(pending):
            if children[name].poll() is not None:
                raise SystemExit(f"{name} exited early; see {RUN}/logs/{name}.log")
            try:
                if (
                    httpx.get(
                        f"http://127.0.0.1:{SERVICES[name]}/health/ready", timeout=2
                    ).status_code
                    == 200
                ):
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise SystemExit(
                f"not healthy after {timeout}s: {', '.join(sorted(pending))}; see {RUN}/logs/"
            )
        time.sleep(0.5)


def print_where() -> None:
    print("\nPainflow is up:")
    for name, port in SERVICES.items():
        print(
            f"  {name:<11} http://127.0.0.1:{port}/fhir   "
            "(metadata, /health/ready, /metrics, /docs)"
        )
    print(f"  kafka       {os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}")
    print(f"  logs        {RUN}/logs/<service>.log   databases: {RUN}/<service>.db (SQLite)")
    print("  journey     http://127.0.0.1:8004/journey/<patient id>\n", flush=True)


def stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    PIDFILE.unlink(missing_ok=True)


def kafka(command: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "kafka" / "kafka.sh"), command], check=True)


def run(foreground: bool) -> None:
    kafka("start")
    try:
        supervise(foreground)
    finally:
        if foreground:
            kafka("stop")  # Ctrl-C stops everything `make run` started


def supervise(foreground: bool) -> None:
    children = start_children()
    PIDFILE.write_text("\n".join(str(c.pid) for c in children.values()))
    try:
        wait_healthy(children)
    except SystemExit:
        stop_children(children)
        raise
    print_where()
    if not foreground:
        return
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(c.poll() is None for c in children.values()):
            time.sleep(1)
        print("a service exited; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stop_children(children)


def down() -> None:
    if not PIDFILE.exists():
        print("no services running (no pid file)")
        return
    pids = [int(p) for p in PIDFILE.read_text().split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 20
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    PIDFILE.unlink(missing_ok=True)
    print("services stopped")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "up", "down"])
    mode = parser.parse_args().mode
    if mode == "down":
        down()
    else:
        run(foreground=mode == "run")
