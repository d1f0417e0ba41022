"""The ``painflow`` CLI against the real broker, PostgreSQL and services: a poison record is
dead-lettered, listed, fixed and replayed, and handled once; ``doctor`` names what is down
(a service, the broker, a database, the identity provider); ``token`` gives a usable token."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from kafka import KafkaProducer
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.cli import main
from painflow_shared.events.inbox import InboxEntry
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import ReferralEvent
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config, pg_admin_url, scratch_databases
from painflow_shared.testing.servers import free_port, start_server

from .conftest import post_referral

pytestmark = pytest.mark.integration
CONSUMERS = ("assessment", "scheduling", "followup")


def _env(platform, kafka: str) -> dict[str, str]:
    env = {f"PAINFLOW_{s.upper()}_URL": platform.url(s) for s in platform.servers}
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": kafka}


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _withheld_event(platform) -> SimpleNamespace:
    """A referral's received event, kept from the broker: the test publishes it itself."""
    relay = platform.runtime("referral").relay
    relay.stop()
    try:
        patient_id, _ = post_referral(platform)
        with Session(platform.runtime("referral").engine) as session:
            row = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.key == patient_id,
                    OutboxMessage.event_type == ReferralEvent.RECEIVED,
                )
            ).one()
            event = SimpleNamespace(
                event_id=row.event_id,
                topic=row.topic,
                key=row.key,
                headers=dict(row.headers),
                payload=row.payload,
            )
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == patient_id)
                .values(sent_at=datetime.now(UTC))
            )
            session.commit()
    finally:
        relay.start()
    return event


def _handled(platform, service: str, event_id: str) -> int:
    group = platform.settings[service].consumer_group
    with Session(platform.runtime(service).engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(InboxEntry)
                .where(InboxEntry.consumer == group, col(InboxEntry.event_id) == event_id)
            ).one()
        )


def test_a_poison_record_is_listed_fixed_replayed_and_handled_once(platform, kafka, tmp_path):
    env, row = _env(platform, kafka), _withheld_event(platform)
    headers = [(k, v.encode()) for k, v in row.headers.items()]
    producer = KafkaProducer(**kafka_config(kafka))
    producer.send(row.topic, key=row.key.encode(), value=b'{"broken":', headers=headers).get(10)
    producer.close()

    def listed() -> list[str]:
        lines = _cli(env, "dlq", "list", row.topic).splitlines()
        return [line for line in lines if row.event_id in line]

    lines = wait_for(lambda: len(listed()) == 3 and listed(), what="three dead letters listed")
    assert all("unparseable" in line for line in lines)
    assert {line.split("group=")[1].split()[0] for line in lines} == {
        platform.settings[s].consumer_group for s in CONSUMERS
    }
    record_id = lines[0].split()[0]
    assert _cli(env, "dlq", "show", row.topic, record_id, "--value") == '{"broken":'
    assert "x-dlq-reason: unparseable" in _cli(env, "dlq", "show", row.topic, record_id)

    fixed = tmp_path / "fixed.json"
    fixed.write_text(row.payload, encoding="utf-8")
    replayed = subprocess.run(
        [
            sys.executable,
            "-m",
            "painflow_shared.cli",
            "dlq",
            "replay",
            row.topic,
            record_id,
            "--value-file",
            str(fixed),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"ce_id {row.event_id}" in replayed.stdout
    for service in CONSUMERS:
        wait_for(
            lambda s=service: _handled(platform, s, row.event_id) == 1,
            what=f"{service} to handle the replayed event",
        )

    duplicates = sum(c.stats.duplicates for c in platform.runtime("followup").consumers)
    _cli(env, "dlq", "replay", row.topic, record_id, "--value-file", str(fixed))
    wait_for(
        lambda: (
            sum(c.stats.duplicates for c in platform.runtime("followup").consumers) > duplicates
        ),
        what="the second replay to be skipped as a duplicate",
    )
    assert [_handled(platform, s, row.event_id) for s in CONSUMERS] == [1, 1, 1]


def test_events_tail_shows_headers_only(platform, kafka):
    env = _env(platform, kafka)
    patient_id, _ = post_referral(platform)
    topic = platform.settings["referral"].topic("painflow.referral.v1")
    output = _cli(env, "events", "tail", topic, "--from-beginning", "--idle", "3")
    assert f"Patient/{patient_id}" in output or patient_id in output
    assert "resourceType" not in output


def test_doctor_says_all_is_well_then_names_a_stopped_service(platform, kafka, tmp_path):
    env = _env(platform, kafka)
    assert "everything answers and is ready" in _cli(env, "doctor")

    settings = ReferralSettings(
        port=free_port(),
        database_url=f"sqlite:///{tmp_path}/referral.db",
        trace_console=False,
        start_background_workers=False,
    )
    server = start_server(create_app(settings), settings.port)
    server.stop()  # it ran, and is gone
    env["PAINFLOW_REFERRAL_URL"] = server.url
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 1
    assert f"referral does not answer at {server.url}: is it running?" in result.output
    assert "FAIL  referral" in result.output
    assert "ok    followup" in result.output


def test_doctor_names_a_broker_that_is_not_there(platform, kafka):
    env = {**_env(platform, kafka), "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 1
    assert "no Kafka broker accepts connections at 127.0.0.1:" in result.output
    assert "FAIL  broker" in result.output


def test_doctor_names_a_stopped_database(platform, kafka, run_id):
    """A referral service whose PostgreSQL database stops taking connections (as a stopped
    server does): doctor says which service and that its database does not answer."""
    admin = pg_admin_url()
    with scratch_databases(admin, f"{run_id}d", ("doctor",)) as urls:
        settings = ReferralSettings(
            port=free_port(),
            database_url=urls["doctor"],
            trace_console=False,
            start_background_workers=False,
        )
        server = start_server(create_app(settings), settings.port)
        name = urls["doctor"].rsplit("/", 1)[1]
        env = {**_env(platform, kafka), "PAINFLOW_REFERRAL_URL": server.url}
        try:
            assert "ok    referral" in _cli(env, "doctor")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            result = CliRunner().invoke(main, ["doctor"], env=env)
            assert result.exit_code == 1
            assert "FAIL  referral" in result.output
            assert "referral is not ready: database: the database does not answer" in result.output
            assert "ok    broker" in result.output
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            server.stop()


def test_doctor_names_an_identity_provider_that_is_not_there(platform, kafka):
    gone = f"http://127.0.0.1:{free_port()}/realms/painflow"
    env = {**_env(platform, kafka), "PAINFLOW_AUTH_ISSUER": gone}
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 1
    assert f"FAIL  identity    {gone}" in result.output
    assert "start it: `make up`, or `bash deploy/keycloak/keycloak.sh start`" in result.output


def test_token_prints_a_token_the_services_accept(platform):
    token = _cli({}, "token", "dashboard").strip()
    tasks = httpx.get(
        f"{platform.fhir('referral')}/Task", headers={"authorization": f"Bearer {token}"}
    )
    assert tasks.status_code == 200
    refused = httpx.post(
        f"{platform.fhir('referral')}/Patient",
        json={"resourceType": "Patient"},
        headers={"authorization": f"Bearer {token}", "content-type": "application/fhir+json"},
    )
    assert refused.status_code == 403  # the dashboard reads, it does not write
