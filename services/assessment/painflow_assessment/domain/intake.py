"""Which questionnaires an intake needs, what the pain history says, and what a follow-up
``next-step`` asks the assessment to do next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from painflow_assessment.domain.orders import ProcedureOrder
from painflow_assessment.domain.policy import CatalogueEntry, Coding, IntakePolicy
from painflow_assessment.domain.problems import Problem
from painflow_assessment.domain.questionnaires import Answers
from painflow_shared.codes import Laterality, NextStep


def region_for_code(system: str | None, code: str | None, policy: IntakePolicy) -> str | None:
    """The body region a diagnosis code points at (the longest matching prefix wins)."""
    if not code:
        return None
    matches = [
        entry
        for entry in policy.region_by_condition
        if entry.system == system and code.upper().startswith(entry.prefix.upper())
    ]
    return max(matches, key=lambda e: len(e.prefix)).region if matches else None


def region_of_conditions(
    codes: Iterable[tuple[str | None, str | None]], policy: IntakePolicy
) -> str | None:
    """The region of the first (system, code) that has one."""
    for system, code in codes:
        region = region_for_code(system, code, policy)
        if region:
            return region
    return None


def questionnaires_for_region(region: str | None, policy: IntakePolicy) -> tuple[str, ...]:
    """Every intake's questionnaires plus the region's disability index (none if unknown)."""
    return (*policy.always, *policy.by_region.get(region or "", ()))


def intake_questionnaires(
    codes: Iterable[tuple[str | None, str | None]], policy: IntakePolicy
) -> tuple[str, ...]:
    """The questionnaires to ask for when the intake opens, from the referral's Conditions."""
    return questionnaires_for_region(region_of_conditions(codes, policy), policy)


@dataclass(frozen=True)
class IntakeRevision:
    add: tuple[str, ...]  # questionnaire URLs to open a Task for
    cancel: tuple[str, ...]  # questionnaire URLs whose open Task is no longer needed


def revise_for_region(current: Sequence[str], region: str, policy: IntakePolicy) -> IntakeRevision:
    """When intake-history names another region than the Conditions did: the Tasks to add and
    the (not yet answered) ones to cancel."""
    wanted = questionnaires_for_region(region, policy)
    regional = {url for urls in policy.by_region.values() for url in urls}
    return IntakeRevision(
        add=tuple(url for url in wanted if url not in current),
        cancel=tuple(url for url in current if url in regional and url not in wanted),
    )


@dataclass(frozen=True)
class IntakeHistory:
    """What the intake-history response says (the clinician's group included)."""

    region: str | None = None
    side: Laterality | None = None
    pain_type: str | None = None
    pt_weeks: int | None = None
    prior_spine_surgery: bool = False
    psychosocial_finding: bool = False
    refractory: bool = False
    unstable_findings: bool = False
    levels: tuple[str, ...] = ()


def intake_history(answers: Answers) -> IntakeHistory:
    side = _code(answers, "pain-side")
    weeks = answers.score("pt-weeks")
    return IntakeHistory(
        region=_code(answers, "pain-region"),
        side=Laterality(side) if side in {s.value for s in Laterality} else None,
        pain_type=_code(answers, "pain-type"),
        pt_weeks=int(weeks) if weeks is not None else None,
        prior_spine_surgery=_true(answers, "prior-spine-surgery"),
        psychosocial_finding=_true(answers, "psychosocial-driven"),
        refractory=_true(answers, "refractory"),
        unstable_findings=_true(answers, "unstable-findings"),
        levels=tuple(str(a.value) for a in answers.all("spinal-levels")),
    )


def _code(answers: Answers, link_id: str) -> str | None:
    answer = answers.first(link_id)
    return answer.value.code if answer and isinstance(answer.value, Coding) else None


def _true(answers: Answers, link_id: str) -> bool:
    answer = answers.first(link_id)
    return bool(answer and answer.value is True)


@dataclass(frozen=True)
class NextStepPlan:
    next_step: str
    action: str  # order | reopen-intake | urgent-review | none
    source: str
    order: ProcedureOrder | None = None  # basedOn the previous order


def plan_next_step(
    next_step: str,
    previous: ProcedureOrder | None,
    policy: IntakePolicy,
    catalogue: Mapping[str, CatalogueEntry],
) -> NextStepPlan | Problem:
    """What a follow-up ``next-step`` becomes: the next order (same region, side and levels as
    the previous one), a reopened intake, an urgent review, or nothing here."""
    rule = policy.next_steps.get(next_step)
    if rule is None:
        return Problem("ServiceRequest.code", "next-step", "not a next-step this service acts on")
    if rule.action != "order":
        return NextStepPlan(next_step, rule.action, rule.source)
    cpt = rule.cpt_by_previous.get(previous.cpt) if previous else None
    if previous is None or cpt is None or cpt not in catalogue:
        follows = ", ".join(sorted(rule.cpt_by_previous))
        message = f"{next_step} follows an order for CPT {follows}; the previous order is not one"
        return Problem("ServiceRequest.basedOn", "next-step", message)
    order = ProcedureOrder(
        cpt=cpt,
        purpose=catalogue[cpt].purpose,
        rule=next_step,
        region=previous.region,
        side=previous.side,
        levels=previous.levels,
        note=_next_note(next_step, rule.source),
    )
    return NextStepPlan(next_step, rule.action, rule.source, order)


def _next_note(next_step: str, source: str) -> str:
    if next_step == NextStep.SECOND_COMPARATIVE_BLOCK:
        return f"Second, comparative block at the same site ({source})."
    return f"Follows the previous procedure: {next_step.replace('-', ' ')} ({source})."
