"""The four services as ``make up`` runs them: one process each (uvicorn, N workers), on fresh
PostgreSQL databases and run-unique Kafka topics, stopped (by PID) and dropped afterwards."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from procs import Started, wait_ready

from painflow_shared.testing.infra import kafka_config, new_run_id, scratch_databases
from painflow_shared.testing.servers import free_port

SERVICES = ("referral", "assessment", "scheduling", "followup")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_ISSUER = "http://127.0.0.1:8180/realms/painflow"  # deploy/keycloak (issue 13)
# what a bench process must not inherit from the shell: exporters would add their own cost
DROP_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "PAINFLOW_ZIPKIN_ENDPOINT",
    "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
)


@dataclass
class Deployment:
    run_id: str
    kafka: str
    urls: dict[str, str]  # SQLAlchemy URL of each service's database
    ports: dict[str, int]
    workdir: Path
    authenticated: bool = False  # the load sends a bearer token; the services check it
    started: Started = field(default_factory=Started)

    def fhir(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}/fhir"

    def pids(self) -> dict[str, int]:
        return {name: self.started.pid(name) for name in SERVICES if name in self.started.children}

    def consumer_group(self, service: str) -> str:
        return f"painflow-{service}-{self.run_id}"

    @property
    def topic_prefix(self) -> str:
        return f"bench-{self.run_id}."

    def db(self, service: str) -> str:
        """A psycopg (libpq) URL of the service's database."""
        return self.urls[service].replace("postgresql+psycopg://", "postgresql://")

    def sql_dir(self) -> Path:
        return self.workdir / "sql"


def service_env(dep: Deployment, name: str, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    if not dep.authenticated:  # no token for the load: the services must not ask for one
        env["PAINFLOW_AUTH_DISABLED"] = "true"
    else:
        env.setdefault("PAINFLOW_AUTH_ISSUER", DEFAULT_ISSUER)
    prefix = name.upper()
    env.update(
        {
            f"{prefix}_PORT": str(dep.ports[name]),
            f"{prefix}_DATABASE_URL": dep.urls[name],
            f"{prefix}_CONSUMER_GROUP": dep.consumer_group(name),
            "KAFKA_BOOTSTRAP_SERVERS": dep.kafka,
            "PAINFLOW_TOPIC_PREFIX": dep.topic_prefix,
            "PAINFLOW_REFERRAL_BASE_URL": dep.fhir("referral"),
            "PAINFLOW_LOG_LEVEL": "WARNING",
            "PAINFLOW_TRACE_CONSOLE": "false",
            "BENCH_SERVICE": name,
            "BENCH_WORKERS": str(workers),
            "BENCH_SQL_DIR": str(dep.sql_dir()),
        }
    )
    return env


def start_services(dep: Deployment, workers: dict[str, int], only: tuple[str, ...]) -> None:
    dep.sql_dir().mkdir(parents=True, exist_ok=True)
    for name in only:
        argv = [sys.executable, str(HERE / "serve_counted.py")]
        log = dep.workdir / f"{name}.log"
        dep.started.start(name, argv, service_env(dep, name, workers.get(name, 1)), log)
    ready = {name: f"http://127.0.0.1:{dep.ports[name]}/health/ready" for name in only}
    wait_ready(ready, dep.started.alive, timeout=120)


@contextmanager
def deployment(admin_url: str, kafka: str, *, authenticated: bool) -> Iterator[Deployment]:
    """Fresh databases for the four services; every process started in it is stopped after."""
    run_id = new_run_id()
    workdir = Path(tempfile.mkdtemp(prefix=f"painflow-bench-{run_id}-"))
    with scratch_databases(admin_url, run_id, SERVICES) as urls:
        ports = {name: free_port() for name in SERVICES}
        dep = Deployment(run_id, kafka, dict(urls), ports, workdir, authenticated)
        try:
            yield dep
        except BaseException:
            print(f"the services' logs are kept in {workdir}", file=sys.stderr)
            raise
        finally:
            dep.started.stop_all()
            drop_kafka_objects(dep)
        shutil.rmtree(workdir, ignore_errors=True)  # only after a run that went through


def drop_kafka_objects(dep: Deployment) -> None:
    """Best effort: this run's topics and consumer groups."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(**kafka_config(dep.kafka), client_id="bench")
    except Exception as exc:  # a bench that measured should still print its figures
        print(f"could not reach Kafka to tidy up: {type(exc).__name__}", file=sys.stderr)
        return
    try:
        admin.delete_groups([dep.consumer_group(s) for s in SERVICES])  # errors returned
        topics = [t for t in admin.list_topics() if t.startswith(dep.topic_prefix)]
        if topics:
            admin.delete_topics(topics)
    except Exception as exc:
        print(f"could not delete this run's topics/groups: {type(exc).__name__}", file=sys.stderr)
    finally:
        admin.close()
