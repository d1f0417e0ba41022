"""A served process tunes its garbage collector; a test process (which builds many apps) never
does. Each case runs in its own interpreter: freezing is for the whole process."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = (
    "import gc, sys; from painflow_shared.serve import tune_gc; tune_gc(sys.argv[1]); "
    "print(gc.get_threshold(), gc.get_freeze_count() > 0)"
)


def _probe(thresholds: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, thresholds], capture_output=True, text=True, timeout=60
    )


def test_the_configured_thresholds_apply_and_startup_objects_are_frozen() -> None:
    result = _probe("50000,20,50")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(50000, 20, 50) True"


def test_empty_keeps_python_s_collector_as_it_is() -> None:
    result = _probe("")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(700, 10, 10) False"


@pytest.mark.parametrize("bad", ["fast", "100,x"])
def test_a_malformed_setting_stops_the_service_at_start(bad: str) -> None:
    result = _probe(bad)
    assert result.returncode != 0 and "ValueError" in result.stderr
