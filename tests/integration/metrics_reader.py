"""Read a service's /metrics as Prometheus would (tests only)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .api import api


def samples(base_url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample on ``base_url``/metrics: (name, labels, value)."""
    text = api.get(f"{base_url}/metrics", timeout=30).text
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(base_url: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    return sum(
        value
        for sample, have, value in samples(base_url)
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


def names(base_url: str) -> set[str]:
    return {name for name, _, _ in samples(base_url)}
