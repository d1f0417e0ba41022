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

from painflow_clinic.fhir import Fhir, ServiceError, gather

POLICY_SECONDS = 300  # a policy changes with a deployment; the services say max-age=300 too
_documents: TTLCache[tuple[str, str], dict[str, Any]] = TTLCache(maxsize=16, ttl=POLICY_SECONDS)


@dataclass(frozen=True)
class ImportantChange:
    """Lower is better: important at ``min_points`` down or ``min_percent`` of the baseline."""

    min_points: float
    min_percent: float
    cite: str


UNREAD = {
    "outcome-measures": "No important-change line: the follow-up service's outcome-measures "
    "policy could not be read.",
    "mme": "No MME lines: the assessment service's mme policy could not be read.",
}


@dataclass(frozen=True)
class Thresholds:
    change: dict[str, ImportantChange] = field(default_factory=dict)  # nrs, odi, ndi
    mme_lines: tuple[float, ...] = ()  # ascending: caution ... limit
    unread: frozenset[str] = frozenset()  # the policies that could not be read

    def note(self, chart: str) -> tuple[str, ...]:
        """Why the chart (nrs, odi, ndi or mme) lacks its lines, for people; () when it has them."""
        policy = "mme" if chart == "mme" else "outcome-measures"
        return (UNREAD[policy],) if policy in self.unread else ()


async def chart_thresholds(fhir: Fhir) -> Thresholds:
    measures, mme = await gather(
        _policy(fhir, "followup", "outcome-measures"), _policy(fhir, "assessment", "mme")
    )
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
    if measures is not None:
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
    if mme is not None:
        lines = tuple(sorted(float(t["at"]) for t in mme.get("thresholds") or [] if "at" in t))
    unread = {name for name, doc in (("outcome-measures", measures), ("mme", mme)) if doc is None}
    return Thresholds(change=change, mme_lines=lines, unread=frozenset(unread))
