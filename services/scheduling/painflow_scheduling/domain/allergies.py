"""Allergy conflicts between a patient's AllergyIntolerances and a procedure's agents.

A conflict refuses the booking unless the request carries an explicit override: a documented
premedication or alternative agent (recorded by the handler in Appointment.comment and a
Provenance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from painflow_scheduling.domain.fhir_values import codings, concept_code, concept_words, reference
from painflow_scheduling.domain.order import OrderFacts
from painflow_scheduling.domain.policy import Agent, AgentPolicy
from painflow_scheduling.domain.refusals import Refusal, Rule

_INACTIVE = frozenset({"inactive", "resolved"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})
_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


@dataclass(frozen=True)
class AllergyConflict:
    allergy: str | None  # "AllergyIntolerance/<id>"
    agent: str  # e.g. "iodinated-contrast"
    agent_display: str
    matched_by: str  # "code" or "text"
    criticality: str | None = None


@dataclass(frozen=True)
class AllergyOverride:
    """A clinician's explicit override: ``kind`` premedication or alternative-agent, with the
    documented plan in ``text``; ``agent`` None covers every conflicting agent."""

    kind: str
    text: str
    agent: str | None = None


def procedure_agents(order: OrderFacts, policy: AgentPolicy) -> tuple[Agent, ...]:
    """The agents the order's CPT code uses (the default set for a code the table lacks), minus
    agents tied to imaging the order does not use (no iodinated contrast under ultrasound)."""
    names = policy.procedures.get(order.cpt or "", policy.default_agents)
    agents = (policy.agent(n) for n in names)
    return tuple(
        a for a in agents if a is not None and (not a.modalities or order.modality in a.modalities)
    )


def allergy_conflicts(
    agents: Sequence[Agent], allergies: Sequence[dict[str, Any]]
) -> tuple[AllergyConflict, ...]:
    found: list[AllergyConflict] = []
    for allergy in allergies:
        if not _current(allergy):
            continue
        for agent in agents:
            matched_by = _match(agent, allergy)
            if matched_by:
                found.append(
                    AllergyConflict(
                        reference(allergy),
                        agent.agent,
                        agent.display,
                        matched_by,
                        allergy.get("criticality"),
                    )
                )
    return tuple(found)


def _current(allergy: dict[str, Any]) -> bool:
    clinical = concept_code(allergy.get("clinicalStatus"), _CLINICAL)
    verification = concept_code(allergy.get("verificationStatus"), _VERIFICATION)
    return clinical not in _INACTIVE and verification not in _NOT_TRUE


def _match(agent: Agent, allergy: dict[str, Any]) -> str | None:
    concepts = [allergy.get("code")] + [
        s
        for r in allergy.get("reaction") or []
        if isinstance(r, dict)
        for s in [r.get("substance")]
    ]
    pairs = {(c.get("system"), c.get("code")) for concept in concepts for c in codings(concept)}
    if pairs & {(c.system, c.code) for c in agent.codes}:
        return "code"
    words = " ".join(concept_words(c) for c in concepts)
    return "text" if any(w in words for w in agent.words) else None


def valid_override(override: AllergyOverride, policy: AgentPolicy) -> bool:
    return override.kind in policy.override_kinds and bool(override.text.strip())


def covered_conflicts(
    conflicts: Sequence[AllergyConflict],
    overrides: Sequence[AllergyOverride],
    policy: AgentPolicy,
) -> tuple[tuple[AllergyConflict, AllergyOverride], ...]:
    """Each conflict a valid override covers, with that override (for the comment/Provenance)."""
    pairs = []
    for conflict in conflicts:
        cover = next((o for o in overrides if _covers(o, conflict, policy)), None)
        if cover is not None:
            pairs.append((conflict, cover))
    return tuple(pairs)


def _covers(override: AllergyOverride, conflict: AllergyConflict, policy: AgentPolicy) -> bool:
    return valid_override(override, policy) and override.agent in (None, conflict.agent)


def check_allergies(
    conflicts: Sequence[AllergyConflict],
    overrides: Sequence[AllergyOverride],
    policy: AgentPolicy,
    *,
    expression: str = "Appointment.basedOn",
) -> tuple[Refusal, ...]:
    """One refusal per conflict no valid override covers."""
    covered = {c for c, _ in covered_conflicts(conflicts, overrides, policy)}
    return tuple(
        Refusal(
            Rule.ALLERGY,
            f"allergy conflict: {c.allergy or 'an AllergyIntolerance'} matches the procedure's "
            f"{c.agent_display} (by {c.matched_by}, agents table v{policy.version}); book it only "
            f"with an explicit override naming a documented premedication or alternative agent",
            expression,
        )
        for c in conflicts
        if c not in covered
    )
