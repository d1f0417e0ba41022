"""The local supervisor (`make run` / `make up`) restarts a crashed service with backoff, logs
each restart, and restarts nothing it was told to stop. Tiny child processes stand in for the
services: this needs neither Kafka nor PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "local"))
from restarts import Backoff, Child, Supervisor


def test_backoff_doubles_to_its_maximum():
    backoff = Backoff(initial=1, maximum=30, reset_after=60)
    assert [backoff.next_delay(uptime=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_backoff_starts_over_once_a_child_stayed_up():
    backoff = Backoff(initial=1, maximum=30, reset_after=60)
    for _ in range(4):
        backoff.next_delay(uptime=1)
    assert backoff.next_delay(uptime=59) == 16
    assert backoff.next_delay(uptime=60) == 1
    assert backoff.next_delay(uptime=2) == 2


def _child(tmp_path: Path, code: str, starts: list[subprocess.Popen[bytes]]) -> Child:
    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", code])
        starts.append(process)
        return process

    return Child("svc", start, tmp_path / "svc.log", Backoff(initial=0.1, maximum=0.4))


@pytest.fixture
def running() -> Iterator[list[Supervisor]]:
    supervisors: list[Supervisor] = []
    yield supervisors
    for supervisor in supervisors:
        supervisor.stop(timeout=5)


def _watch(supervisor: Supervisor, running: list[Supervisor]) -> threading.Thread:
    running.append(supervisor)
    supervisor.start_all()
    thread = threading.Thread(target=supervisor.run, kwargs={"poll": 0.02}, daemon=True)
    thread.start()
    return thread


def test_a_crashed_child_is_restarted_with_backoff_and_logged(tmp_path, running, capfd):
    starts: list[subprocess.Popen[bytes]] = []
    child = _child(tmp_path, "import sys; sys.exit(3)", starts)
    supervisor = Supervisor([child])
    thread = _watch(supervisor, running)
    deadline = time.monotonic() + 10
    while len(starts) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    supervisor.stop(timeout=5)
    thread.join(timeout=5)
    assert len(starts) >= 4, "the child was not restarted"
    lines = [json.loads(line) for line in (tmp_path / "svc.log").read_text().splitlines()]
    exits = [line["message"] for line in lines if "exited" in line["message"]]
    assert exits[:3] == [
        "svc exited with code 3; restarting in 0.1s",
        "svc exited with code 3; restarting in 0.2s",
        "svc exited with code 3; restarting in 0.4s",
    ]
    assert all(line["service"] == "svc" for line in lines)
    assert "supervisor: svc exited with code 3" in capfd.readouterr().err


def test_what_the_supervisor_stopped_is_not_restarted(tmp_path, running):
    starts: list[subprocess.Popen[bytes]] = []
    child = _child(tmp_path, "import time; time.sleep(60)", starts)
    supervisor = Supervisor([child])
    _watch(supervisor, running)
    supervisor.stop(timeout=5)
    time.sleep(0.5)  # many polls and any backoff would have passed
    assert len(starts) == 1
    assert starts[0].returncode is not None
    assert not (tmp_path / "svc.log").exists()  # no exit was reported as a crash


def test_a_killed_child_is_restarted(tmp_path, running):
    starts: list[subprocess.Popen[bytes]] = []
    child = _child(tmp_path, "import time; time.sleep(60)", starts)
    supervisor = Supervisor([child])
    _watch(supervisor, running)
    starts[0].kill()
    deadline = time.monotonic() + 10
    while len(starts) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(starts) == 2
    assert "exited with code -9" in (tmp_path / "svc.log").read_text()
