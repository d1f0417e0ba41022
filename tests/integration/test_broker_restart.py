"""The broker itself goes away while referrals keep coming: nothing accepted is lost or doubled."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from painflow_shared.testing.fixtures import wait_for

from .conftest import post_referral
from .test_delivery import _journey_steps, _worklist_size

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]
KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"


def _kafka(command: str) -> None:
    subprocess.run(["bash", str(KAFKA_SH), command], check=True, capture_output=True, timeout=180)


def test_referrals_taken_while_the_broker_is_down_arrive_once_each(platform):
    status = subprocess.run(["bash", str(KAFKA_SH), "status"], capture_output=True, timeout=30)
    if status.returncode != 0:
        pytest.skip("the broker was not started by deploy/kafka/kafka.sh: not restarting it")
    _kafka("stop")
    try:
        posted = [post_referral(platform) for _ in range(5)]  # HTTP needs only the database
        relay = platform.runtime("referral").relay
        assert relay.pending() >= 5
    finally:
        _kafka("start")
    patients = [p for p, _ in posted]
    wait_for(
        lambda: relay.pending() == 0, timeout=120, what="the outbox to drain after the restart"
    )
    wait_for(lambda: len(_journey_steps(platform, patients)) == 5, timeout=120, what="followup")
    wait_for(
        lambda: _worklist_size(platform, [r for _, r in posted]) == 5,
        timeout=120,
        what="assessment",
    )
    assert _journey_steps(platform, patients) == {p: 1 for p in patients}
