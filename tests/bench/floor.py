"""The in-process floor: what one referral costs with no HTTP and no Kafka.

The referral app is built in this process on its own fresh database, without its background
workers (no relay, no consumers: nothing reaches Kafka), its lifespan run once (migrations).
Then each Bundle is parsed and validated (``parse_resource``, as the route does) and submitted
through the same handler the route calls, which commits the stored resources, the case and the
event's outbox row in one transaction. The same Bundles as the load (``referral_bundle``), one
after the other in one thread: referrals/s and CPU per referral of the platform's own work.
"""

from __future__ import annotations

import json
import resource
import time
from typing import Any

from fastapi.testclient import TestClient

from painflow_shared.fhir.parse import parse_resource
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.infra import new_run_id, scratch_databases
from painflow_shared.testing.servers import free_port


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_floor(admin_url: str, kafka: str, seconds: float, limit: int = 3000) -> dict[str, Any]:
    from painflow_referral.app import create_app
    from painflow_referral.settings import ReferralSettings

    run_id = new_run_id()
    with scratch_databases(admin_url, f"{run_id}_floor", ("referral",)) as urls:
        settings = ReferralSettings(
            port=free_port(),
            database_url=urls["referral"],
            kafka_bootstrap_servers=kafka,
            topic_prefix=f"bench-floor-{run_id}.",
            start_background_workers=False,
            auth_disabled=True,  # no identity provider in a floor: its cost is not the floor
            trace_console=False,
            log_level="WARNING",
        )
        app = create_app(settings)
        with TestClient(app):  # runs the lifespan: engine, migrations, handlers
            handlers = app.state.referral
            bodies = [json.loads(json.dumps(referral_bundle())) for _ in range(limit)]
            _submit(handlers, referral_bundle())  # warm: first-use caches
            return _run(handlers, bodies, seconds)


def _submit(handlers: Any, body: dict[str, Any]) -> None:
    parse_resource(body, expected_type="Bundle")
    handlers.submit_transaction(body)


def _run(handlers: Any, bodies: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    cpu0, t0, done = _cpu(), time.perf_counter(), 0
    for body in bodies:
        _submit(handlers, body)
        done += 1
        if time.perf_counter() - t0 >= seconds:
            break
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return {
        "referrals": done,
        "seconds": round(wall, 2),
        "referrals_per_second": round(done / wall, 1),
        "ms_per_referral": round(1000 * wall / done, 2),
        "cpu_ms_per_referral": round(1000 * cpu / done, 2),
    }
