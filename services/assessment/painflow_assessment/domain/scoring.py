"""Scores exactly as each instrument defines them, and the score Observation of each.

PHQ-9 and GAD-7 are sums with bands; ODI and NDI are a percentage of the answered sections'
maximum, valid with at most ``max_skipped`` sections left blank; PEG is the mean of its three
items; NRS is the rating as given. PHQ-9 item 9 above 0 is a safety finding whatever the total.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from painflow_assessment.domain.elements import SURVEY_CATEGORY, number, reference, ucum_quantity
from painflow_assessment.domain.policy import InstrumentSpec, ScoringPolicy
from painflow_assessment.domain.problems import Problem
from painflow_assessment.domain.questionnaires import Answers


@dataclass(frozen=True)
class InstrumentScore:
    instrument: str  # the InstrumentSpec key: "phq-9"
    questionnaire: str
    value: int | float
    band: str | None
    answered: int  # items that counted
    skipped: tuple[str, ...] = ()  # linkIds left blank (ODI/NDI)
    safety_finding: bool = False  # PHQ-9 item 9 above 0


def score_response(
    answers: Answers, policy: ScoringPolicy
) -> InstrumentScore | list[Problem] | None:
    """The score of a validated response; problems when it cannot be scored; None when its
    questionnaire (intake-history, medications) has no score."""
    spec = policy.instruments.get(answers.questionnaire)
    if spec is None:
        return None
    return _METHODS[spec.method](answers, spec)


def band_of(value: float, spec: InstrumentSpec) -> str | None:
    """The last band whose lower bound is at or below ``value``."""
    found = None
    for band in spec.bands:
        if value >= band.lower:
            found = band.name
    return found


def _item_scores(answers: Answers, spec: InstrumentSpec) -> dict[str, float]:
    found = {}
    for link_id in spec.items:
        score = answers.score(link_id)
        if score is not None:
            found[link_id] = score
    return found


def _missing(spec: InstrumentSpec, scores: Mapping[str, float]) -> list[Problem]:
    missing = [link_id for link_id in spec.items if link_id not in scores]
    return [
        Problem(
            "QuestionnaireResponse.item",
            "required",
            f"{spec.key} is scored from every item: item '{link_id}' has no answer",
        )
        for link_id in missing
    ]


def score_sum(answers: Answers, spec: InstrumentSpec) -> InstrumentScore | list[Problem]:
    scores = _item_scores(answers, spec)
    problems = _missing(spec, scores)
    if problems:
        return problems
    total = int(sum(scores.values()))
    safety = bool(spec.safety_item and scores[spec.safety_item] > 0)
    return InstrumentScore(
        spec.key, spec.questionnaire, total, band_of(total, spec), len(scores), (), safety
    )


def score_mean(answers: Answers, spec: InstrumentSpec) -> InstrumentScore | list[Problem]:
    scores = _item_scores(answers, spec)
    problems = _missing(spec, scores)
    if problems:
        return problems
    mean = round(sum(scores.values()) / len(scores), spec.decimals)
    return InstrumentScore(spec.key, spec.questionnaire, mean, band_of(mean, spec), len(scores))


def score_single(answers: Answers, spec: InstrumentSpec) -> InstrumentScore | list[Problem]:
    scores = _item_scores(answers, spec)
    problems = _missing(spec, scores)
    if problems:
        return problems
    value = int(scores[spec.items[0]])
    return InstrumentScore(spec.key, spec.questionnaire, value, band_of(value, spec), 1)


def score_percent_of_answered(
    answers: Answers, spec: InstrumentSpec
) -> InstrumentScore | list[Problem]:
    """Sum of answered sections / (section maximum x answered sections) x 100."""
    scores = _item_scores(answers, spec)
    skipped = tuple(link_id for link_id in spec.items if link_id not in scores)
    if len(skipped) > spec.max_skipped or not scores:
        message = (
            f"{spec.key} needs at least {len(spec.items) - spec.max_skipped} of its "
            f"{len(spec.items)} sections answered for a valid score; {len(skipped)} are blank"
        )
        return [Problem("QuestionnaireResponse.item", "too-many-skipped", message)]
    percent = sum(scores.values()) / (spec.section_max * len(scores)) * 100
    value = round(percent, spec.decimals)
    band = band_of(value, spec)
    return InstrumentScore(spec.key, spec.questionnaire, value, band, len(scores), skipped)


_METHODS: Mapping[str, Callable[[Answers, InstrumentSpec], InstrumentScore | list[Problem]]] = {
    "sum": score_sum,
    "mean": score_mean,
    "single": score_single,
    "percent-of-answered": score_percent_of_answered,
}
SCORING_METHODS = frozenset(_METHODS)


def score_observation(
    score: InstrumentScore,
    policy: ScoringPolicy,
    *,
    observation_id: str,
    patient: str,
    response: str,
    effective: str,
) -> dict[str, Any]:
    """The score Observation: category survey, the instrument's score code, ``subject``,
    ``derivedFrom`` the QuestionnaireResponse, the value and the band in ``interpretation``."""
    spec = policy.instruments[score.questionnaire]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "category": [SURVEY_CATEGORY],
        "code": {"coding": [spec.score_code.as_json()]},
        "subject": reference(patient),
        "effectiveDateTime": effective,
        "derivedFrom": [reference(response)],
    }
    if spec.value_type == "integer":
        observation["valueInteger"] = int(score.value)
    else:
        observation["valueQuantity"] = ucum_quantity(number(score.value), spec.unit or "1")
    if score.band:
        observation["interpretation"] = [{"text": score.band}]
    if score.skipped:
        blank = ", ".join(score.skipped)
        observation["note"] = [{"text": f"Scored over the answered sections; left blank: {blank}."}]
    return observation
