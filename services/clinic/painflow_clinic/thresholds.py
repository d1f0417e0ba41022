"""What the charts mark, read from the services' own policies (``GET /policies/{name}``): the
follow-up service's clinically important change (``outcome-measures``) and the assessment
service's MME flags (``mme``). Nothing here is a copy of a value: a site that edits those
policies sees the change in the charts as in the services' decisions. Display only: the
follow-up service decides, and its outcome Observations carry the verdict in ``interpretation``.

A policy that cannot be read leaves its lines off the charts, and the charts say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache

from painflow_clinic.fhir import Fhir, ServiceError

POLICY_SECONDS = 300  # a policy changes with a deployment; the services say max-age=300 too
_documents: TTLCache[tuple[str, str], dict[str, Any]] = TTLCache(maxsize=16, ttl=POLICY_SECONDS)


@dataclass(frozen=True)
class ImportantChange:
    """Lower is better: important at ``min_points`` down or ``min_percent`` of the baseline."""

    min_points: float
    min_percent: float
    cite: str


@dataclass(frozen=True)
class Thresholds:
    change: dict[str, ImportantChange] = field(default_factory=dict)  # nrs, odi, ndi
    mme_lines: tuple[float, ...] = ()  # ascending: caution ... limit
    unavailable: tuple[str, ...] = ()  # why a chart lacks its lines, for people

    def note(self, *keys: str) -> tuple[str, ...]:
        """The unavailable-policy notes for a chart that needs ``keys``."""
        missing = any(k not in self.change for k in keys if k != "mme") or (
            "mme" in keys and not self.mme_lines
        )
        return self.unavailable if missing else ()


async def chart_thresholds(fhir: Fhir) -> Thresholds:
    measures = await _policy(fhir, "followup", "outcome-measures")
    mme = await _policy(fhir, "assessment", "mme")
    return from_policies(measures, mme)


async def _policy(fhir: Fhir, service: str, name: str) -> dict[str, Any] | None:
    key = (fhir.settings.service_url(service), name)
    if key not in _documents:
        try:
            document = await fhir.request(service, "GET", f"/policies/{name}", fhir=False)
        except ServiceError:
            return None  # not remembered: the next page asks again
        if not isinstance(document, dict):
            return None
        _documents[key] = document
    return _documents[key]


def from_policies(measures: dict[str, Any] | None, mme: dict[str, Any] | None) -> Thresholds:
    """The lines each chart draws, from the two documents as the services serve them."""
    change: dict[str, ImportantChange] = {}
    unavailable = []
    if measures is None:
        unavailable.append(
            "No important-change line: the follow-up service's outcome-measures policy "
            "could not be read."
        )
    else:
        rules = {"nrs": measures.get("nrs") or {}, **(measures.get("function") or {})}
        for key in ("nrs", "odi", "ndi"):
            rule = rules.get(key) or {}
            important = rule.get("important_change") or {}
            if "min_points" in important and "min_percent" in important:
                change[key] = ImportantChange(
                    float(important["min_points"]),
                    float(important["min_percent"]),
                    str(rule.get("cite") or measures.get("policy") or ""),
                )
    lines: tuple[float, ...] = ()
    if mme is None:
        unavailable.append("No MME lines: the assessment service's mme policy could not be read.")
    else:
        lines = tuple(sorted(float(t["at"]) for t in mme.get("thresholds") or [] if "at" in t))
    return Thresholds(change=change, mme_lines=lines, unavailable=tuple(unavailable))
