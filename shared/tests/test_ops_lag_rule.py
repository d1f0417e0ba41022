"""When lag counts as "keeps growing" for readiness: pure rule, no broker."""

from __future__ import annotations

from kafka.structs import TopicPartition

from painflow_shared.events.lag import LagSample, lag_keeps_growing

TP = TopicPartition("t", 0)


def _history(*points: tuple[float, int]) -> list[LagSample]:
    return [LagSample(taken_at=t, lag={TP: lag}, dlq_depth={}) for t, lag in points]


def test_lag_above_the_threshold_that_only_rises_over_half_the_window_keeps_growing():
    assert lag_keeps_growing(_history((0, 200), (15, 600), (30, 1200)), threshold=1000, window=60)


def test_a_burst_being_worked_through_is_not_growing():
    assert not lag_keeps_growing(_history((0, 200), (15, 1500), (30, 1200)), 1000, 60)


def test_below_the_threshold_is_fine_however_it_moves():
    assert not lag_keeps_growing(_history((0, 10), (15, 20), (30, 900)), 1000, 60)


def test_too_few_samples_or_too_short_a_span_says_nothing_yet():
    assert not lag_keeps_growing(_history((0, 1100), (30, 1200)), 1000, 60)
    assert not lag_keeps_growing(_history((0, 1100), (5, 1200), (10, 1300)), 1000, 60)


def test_a_stalled_lag_that_never_falls_but_ends_higher_keeps_growing():
    assert lag_keeps_growing(_history((0, 1100), (15, 1100), (30, 1101)), 1000, 60)
