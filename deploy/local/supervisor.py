"""Run the four services as child processes: foreground (`make run`) or background (`make up`).

Each service logs to .run/logs/<service>.log; the supervisor waits until every
/health/ready passes, prints where everything is, restarts a service that dies (with backoff,
see restarts.py) and stops every child on Ctrl-C or SIGTERM. `make up` leaves the supervisor
running in the background (.run/logs/supervisor.log, PID in .run/supervisor.pid); `make down`
stops it, and it stops the services. Only the processes it started are ever signalled (their
PIDs are kept in .run/services.pid). The Kafka broker is started only when none answers on
its port; one already running (the tests' broker, another checkout's) is reused and left running,
and only a broker this supervisor started (.run/kafka.started-by-up) is stopped again.
Each service connects to Kafka as its own principal (SCRAM user = its name; password from
KAFKA_PASSWORD_<SERVICE> or KAFKA_PASSWORD_<SERVICE>_FILE, as deploy/kafka/kafka.sh reads them,
else the development default), after `painflow kafka setup` (as admin) created the ACLs
computed in painflow_shared/events/acls.py and the topics.
The trace viewer (Zipkin, deploy/tracing/zipkin.sh) is handled the same way
(.run/zipkin.started-by-up), and every service exports its spans to it unless
OTEL_EXPORTER_OTLP_ENDPOINT names another collector. So is the identity provider (Keycloak,
deploy/keycloak/keycloak.sh, .run/keycloak.started-by-up): every service gets
PAINFLOW_AUTH_ISSUER and PAINFLOW_AUTH_AUDIENCE, unless PAINFLOW_AUTH_ISSUER names another one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from restarts import Child, Supervisor

from painflow_shared.settings import dev_kafka_password

REPO = Path(__file__).resolve().parents[2]
RUN = Path(os.environ.get("PAINFLOW_RUN_DIR", REPO / ".run"))
SERVICES = {"referral": 8001, "assessment": 8002, "scheduling": 8003, "followup": 8004}
# the clinic web app: no Kafka, no database; it calls the four services with the user's token
APPS = {**SERVICES, "clinic": 8005}
PIDFILE = RUN / "services.pid"
SUPERVISOR_PIDFILE = RUN / "supervisor.pid"
BROKER_MARK = RUN / "kafka.started-by-up"  # present only when `make up`/`make run` started it
ZIPKIN_MARK = RUN / "zipkin.started-by-up"  # likewise for the trace viewer
ZIPKIN_URL = f"http://127.0.0.1:{os.environ.get('ZIPKIN_PORT', '9411')}"
KEYCLOAK_MARK = RUN / "keycloak.started-by-up"  # likewise for the identity provider
ISSUER = f"http://127.0.0.1:{os.environ.get('KEYCLOAK_PORT', '8180')}/realms/painflow"


def start_service(name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_SASL_PASSWORD")}
    if name in SERVICES:
        env |= kafka_principal(name)
    env.setdefault(f"{name.upper()}_DATABASE_URL", f"sqlite:///{RUN}/{name}.db")
    with open(RUN / "logs" / f"{name}.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", f"painflow_{name}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them in order
        )


def kafka_principal(name: str) -> dict[str, str]:
    """The service's own Kafka user and password (the ACLs allow it only its own topics)."""
    password = os.environ.get(f"KAFKA_PASSWORD_{name.upper()}")
    password_file = os.environ.get(f"KAFKA_PASSWORD_{name.upper()}_FILE")
    if password_file and not password:
        return {"KAFKA_SASL_USERNAME": name, "KAFKA_SASL_PASSWORD_FILE": password_file}
    password = password or dev_kafka_password(name)
    return {"KAFKA_SASL_USERNAME": name, "KAFKA_SASL_PASSWORD": password}


def make_supervisor() -> Supervisor:
    (RUN / "logs").mkdir(parents=True, exist_ok=True)
    children = [
        Child(name, partial(start_service, name), RUN / "logs" / f"{name}.log") for name in APPS
    ]
    supervisor = Supervisor(children)

    def write_pids() -> None:  # after every (re)start: `make down` and people find them here
        PIDFILE.write_text("\n".join(map(str, supervisor.pids())))

    supervisor.on_start = write_pids
    return supervisor


def wait_healthy(alive: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = set(APPS)
    while pending:
        if not alive():
            raise SystemExit(f"stopped before every service was ready; see {RUN}/logs/")
        for name in list(pending):
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{APPS[name]}/health/ready", timeout=2).status_code
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
    print(f"  clinic      http://127.0.0.1:{APPS['clinic']}/   (the web app for people)")
    print(f"  kafka       {os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}")
    if os.environ.get("PAINFLOW_AUTH_ISSUER"):
        issuer = os.environ["PAINFLOW_AUTH_ISSUER"]
        print(f"  sign-in     {issuer}   (a token: make token CLIENT=ehr)")
    if os.environ.get("PAINFLOW_ZIPKIN_ENDPOINT"):
        print(f"  traces      {ZIPKIN_URL}/zipkin/   (Zipkin: find a trace by id, service, tag)")
    print(f"  logs        {RUN}/logs/<service>.log   databases: {RUN}/<service>.db (SQLite)")
    print("  journey     http://127.0.0.1:8004/journey/<patient id>\n", flush=True)


@dataclass(frozen=True)
class LocalServer:
    """A server `make up` reuses when one already answers, or starts with its script and marks
    (``.run/<name>.started-by-up``), so that `make down` stops only what `make up` started."""

    name: str
    script: Path
    mark: Path

    def run(self, command: str, check: bool = True) -> int:
        return subprocess.run(["bash", str(self.script), command], check=check).returncode

    def reuse_or_start(self) -> bool:
        """True when it answers now (reused, or started here); False when it would not start."""
        if self.run("status", check=False) == 0:
            print(f"{self.name}: already running: reusing it, and leaving it running", flush=True)
            return True
        if self.run("start", check=False) != 0:
            return False
        RUN.mkdir(parents=True, exist_ok=True)
        self.mark.write_text("started by deploy/local/supervisor.py\n")
        return True

    def stop_if_started(self) -> None:
        if self.mark.exists():
            self.run("stop", check=False)
            self.mark.unlink(missing_ok=True)
        elif self.run("status", check=False) == 0:
            print(f"{self.name}: not started by `make up`: left running", flush=True)


KAFKA = LocalServer("kafka", REPO / "deploy" / "kafka" / "kafka.sh", BROKER_MARK)
ZIPKIN = LocalServer("zipkin", REPO / "deploy" / "tracing" / "zipkin.sh", ZIPKIN_MARK)
KEYCLOAK = LocalServer("keycloak", REPO / "deploy" / "keycloak" / "keycloak.sh", KEYCLOAK_MARK)


def start_broker() -> None:
    if not KAFKA.reuse_or_start():
        raise SystemExit("kafka: did not start (see .run/kafka/broker.log)")


def set_up_kafka() -> None:
    """The services' ACLs and topics, created as the super user (KAFKA_SASL_USERNAME, admin
    by default in development): each service then connects as its own principal."""
    setup = [sys.executable, "-m", "painflow_shared.cli", "kafka", "setup"]
    if subprocess.run(setup, cwd=REPO, check=False).returncode != 0:
        raise SystemExit(
            "kafka: could not create the ACLs and topics as admin; a broker started by an older "
            "kafka.sh has no SASL: `bash deploy/kafka/kafka.sh restart` secures it"
        )


def start_trace_viewer() -> None:
    """Start Zipkin unless one already answers (then reuse it and never stop it), and point
    every service at it. Not when OTLP names another collector; no viewer is no failure."""
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    if not ZIPKIN.reuse_or_start():
        print("zipkin: did not start; spans go to .run/logs/<service>.log instead", flush=True)
        return
    os.environ.setdefault("PAINFLOW_ZIPKIN_ENDPOINT", f"{ZIPKIN_URL}/api/v2/spans")


def start_identity_provider() -> None:
    """Start Keycloak unless it already answers (then reuse it and never stop it), and point
    every service at its realm. Not when PAINFLOW_AUTH_ISSUER names another identity provider."""
    if os.environ.get("PAINFLOW_AUTH_ISSUER", ISSUER).rstrip("/") != ISSUER:
        return
    if not KEYCLOAK.reuse_or_start():
        raise SystemExit(
            "keycloak: did not start (see .run/keycloak/keycloak.log); no service "
            "can check a token without it"
        )
    os.environ.setdefault("PAINFLOW_AUTH_ISSUER", ISSUER)
    os.environ.setdefault("PAINFLOW_AUTH_AUDIENCE", "painflow")


def stop_broker() -> None:
    KAFKA.stop_if_started()


def stop_trace_viewer() -> None:
    ZIPKIN.stop_if_started()


def stop_identity_provider() -> None:
    KEYCLOAK.stop_if_started()


def run() -> None:
    """`make run`: everything in the foreground; Ctrl-C stops all of it."""
    start_broker()
    set_up_kafka()
    start_trace_viewer()
    try:
        start_identity_provider()
        supervise(announce=True)
    finally:
        stop_broker()
        stop_trace_viewer()
        stop_identity_provider()


def up() -> None:
    """`make up`: the supervisor goes on in the background; return once every service is ready."""
    if SUPERVISOR_PIDFILE.exists() and _alive(int(SUPERVISOR_PIDFILE.read_text())):
        raise SystemExit("already up (see .run/supervisor.pid); `make down` first")
    start_broker()
    set_up_kafka()
    start_trace_viewer()  # sets PAINFLOW_ZIPKIN_ENDPOINT, which the supervisor and services inherit
    try:
        start_identity_provider()  # sets PAINFLOW_AUTH_ISSUER and PAINFLOW_AUTH_AUDIENCE, likewise
    except SystemExit:
        down()
        raise
    (RUN / "logs").mkdir(parents=True, exist_ok=True)
    with open(RUN / "logs" / "supervisor.log", "ab") as log:
        daemon = subprocess.Popen(
            [sys.executable, __file__, "supervise"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,  # outlives `make up`
        )
    SUPERVISOR_PIDFILE.write_text(str(daemon.pid))
    try:
        wait_healthy(lambda: daemon.poll() is None)
    except SystemExit:
        down()
        raise
    print_where()


def supervise(announce: bool) -> None:
    """Start the services and keep them running until SIGINT or SIGTERM."""
    supervisor = make_supervisor()
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    supervisor.start_all()
    watcher = threading.Thread(target=supervisor.run, name="restarts", daemon=True)
    watcher.start()
    try:
        if announce:
            wait_healthy(lambda: not stop_requested.is_set())
            print_where()
        while not stop_requested.wait(1):
            pass
        print("\nstopping...", flush=True)
    finally:
        supervisor.stop()  # restarts nothing from here on
        watcher.join()
        PIDFILE.unlink(missing_ok=True)
        if not announce:  # the background supervisor of `make up`
            SUPERVISOR_PIDFILE.unlink(missing_ok=True)


def down() -> None:
    """Stop the background supervisor (which stops its services), else the services by PID;
    then the broker and the trace viewer, if `make up` started them."""
    if SUPERVISOR_PIDFILE.exists():
        _terminate([int(SUPERVISOR_PIDFILE.read_text())], wait=40)
        SUPERVISOR_PIDFILE.unlink(missing_ok=True)
    if PIDFILE.exists():  # the supervisor was gone, or did not finish stopping them
        _terminate([int(p) for p in PIDFILE.read_text().split()], wait=20)
        PIDFILE.unlink(missing_ok=True)
    print("services stopped")
    stop_broker()
    stop_trace_viewer()
    stop_identity_provider()


def _terminate(pids: list[int], wait: float) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + wait
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "up", "supervise", "down"])
    mode = parser.parse_args().mode
    {"run": run, "up": up, "down": down, "supervise": lambda: supervise(announce=False)}[mode]()
