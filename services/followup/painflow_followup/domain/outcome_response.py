"""Reading an outcome QuestionnaireResponse against ``Questionnaire/outcome`` (outcome-v1.json).

Returns the answers, scored (the ODI and NDI as a percentage of the answered sections), or the
problems: each an Issue naming the element
(``QuestionnaireResponse.item[1].answer[0].valueInteger``) and the rule it breaks, never the
submitted value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from painflow_followup.domain.outcomes import MeasurePolicy, stored_value
from painflow_shared.fhir.errors import Issue

ROOT = "QuestionnaireResponse"
PAIN_ITEMS = ("nrs-now", "percent-relief")
FINAL_STATUSES = frozenset({"completed", "amended"})


@dataclass(frozen=True)
class ItemSpec:
    """One item of the outcome Questionnaire, as far as validation needs it."""

    link_id: str
    type: str  # "integer", "decimal" or "group"
    options: frozenset[int] | None = None  # answerOption values, when the item lists them
    minimum: float | None = None
    maximum: float | None = None
    parent: str | None = None  # the group it belongs to


@dataclass(frozen=True)
class OutcomeQuestionnaire:
    url: str
    version: str
    items: Mapping[str, ItemSpec]


@dataclass(frozen=True)
class OutcomeAnswers:
    nrs_now: int | None
    percent_relief: float | None
    pgic: int | None
    function: Mapping[str, float]  # "odi"/"ndi" -> score, 0-100


@dataclass(frozen=True)
class Problems:
    issues: tuple[Issue, ...]


@dataclass
class _Seen:
    """What the walk has met so far: item ids (for duplicates) and the valid answers."""

    link_ids: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)  # items with an answer, valid or not
    values: dict[str, float] = field(default_factory=dict)


def read_outcome_response(
    response: Mapping[str, Any],
    questionnaire: OutcomeQuestionnaire,
    measures: MeasurePolicy,
    *,
    require_function: str | None = None,
) -> OutcomeAnswers | Problems:
    """The answers of ``response``, or every problem found (nothing partial is returned)."""
    issues = [*_header_issues(response, questionnaire)]
    seen = _Seen()
    for path, item, parent in _walk(response.get("item"), ROOT, None):
        issues.extend(_item_issues(path, item, parent, questionnaire, seen))
    values = seen.values
    issues.extend(_completeness_issues(seen.answered, questionnaire, measures, require_function))
    if issues:
        return Problems(tuple(issues))
    return OutcomeAnswers(
        nrs_now=_int(values.get("nrs-now")),
        percent_relief=values.get("percent-relief"),
        pgic=_int(values.get("pgic")),
        function={
            name: score
            for name in measures.functions
            if (score := _score(values, questionnaire, name)) is not None
        },
    )


def _header_issues(
    response: Mapping[str, Any], questionnaire: OutcomeQuestionnaire
) -> Iterator[Issue]:
    if response.get("resourceType") != ROOT:
        yield _issue(ROOT, "must be a QuestionnaireResponse", "structure")
    canonical = str(response.get("questionnaire") or "").partition("|")[0]
    if canonical != questionnaire.url:
        yield _issue(f"{ROOT}.questionnaire", f"must be {questionnaire.url}")
    if response.get("status") not in FINAL_STATUSES:
        yield _issue(f"{ROOT}.status", "must be completed or amended for an outcome")


def _walk(
    items: Any, path: str, parent: str | None
) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    for index, item in enumerate(items if isinstance(items, list) else []):
        here = f"{path}.item[{index}]"
        if not isinstance(item, dict):
            yield here, {}, parent
            continue
        yield here, item, parent
        yield from _walk(item.get("item"), here, str(item.get("linkId") or ""))


def _item_issues(
    path: str,
    item: dict[str, Any],
    parent: str | None,
    questionnaire: OutcomeQuestionnaire,
    seen: _Seen,
) -> Iterator[Issue]:
    link_id = item.get("linkId")
    spec = questionnaire.items.get(link_id) if isinstance(link_id, str) else None
    if spec is None:
        yield _issue(f"{path}.linkId", "is not an item of the outcome Questionnaire")
        return
    if spec.parent != parent:
        where = f"in the group {spec.parent}" if spec.parent else "at the top level"
        yield _issue(f"{path}.linkId", f"belongs {where}")
    elif spec.link_id in seen.link_ids:
        yield _issue(f"{path}.linkId", "appears more than once")
    elif spec.type == "group":
        seen.link_ids.add(spec.link_id)
        if item.get("answer"):
            yield _issue(f"{path}.answer", "a group takes no answer, only items")
    else:
        seen.link_ids.add(spec.link_id)
        if item.get("answer"):
            seen.answered.add(spec.link_id)
        yield from _answer_issues(path, item.get("answer"), spec, seen.values)


def _answer_issues(
    path: str, answers: Any, spec: ItemSpec, values: dict[str, float]
) -> Iterator[Issue]:
    if not answers:
        return  # an unanswered item is allowed: the patient skipped it
    if not isinstance(answers, list) or len(answers) != 1 or not isinstance(answers[0], dict):
        yield _issue(f"{path}.answer", "takes exactly one answer")
        return
    key = "valueInteger" if spec.type == "integer" else "valueDecimal"
    accepted = ("valueInteger",) if spec.type == "integer" else ("valueDecimal", "valueInteger")
    found = [k for k in answers[0] if k.startswith("value")]
    value = _number(answers[0].get(found[0]), spec.type) if len(found) == 1 else None
    if value is None or found[0] not in accepted:
        yield _issue(f"{path}.answer[0]", f"must hold one {key}")
    elif not _in_range(value, spec):
        yield _issue(f"{path}.answer[0].{found[0]}", _range_rule(spec))
    else:
        values[spec.link_id] = value


def _completeness_issues(
    answered_ids: set[str],
    questionnaire: OutcomeQuestionnaire,
    measures: MeasurePolicy,
    require_function: str | None,
) -> Iterator[Issue]:
    # items present but invalid were reported already: only what is absent is reported here
    if not any(link in answered_ids for link in PAIN_ITEMS):
        rule = "needs the pain now (nrs-now) or the percent relief (percent-relief)"
        yield _issue(f"{ROOT}.item", rule, "required")
    for name, measure in measures.functions.items():
        answered = [s for s in _sections(questionnaire, name) if s in answered_ids]
        required = require_function == name
        if (answered or required) and len(answered) < measure.min_answered_sections:
            total = len(_sections(questionnaire, name))
            least = measure.min_answered_sections
            rule = f"the {name.upper()} needs at least {least} of {total} sections answered"
            yield _issue(f"{ROOT}.item", rule, "required")


def _sections(questionnaire: OutcomeQuestionnaire, group: str) -> list[str]:
    return [s.link_id for s in questionnaire.items.values() if s.parent == group]


def _answered_sections(
    values: Mapping[str, float], questionnaire: OutcomeQuestionnaire, group: str
) -> list[float]:
    return [values[link] for link in _sections(questionnaire, group) if link in values]


def _score(
    values: Mapping[str, float], questionnaire: OutcomeQuestionnaire, group: str
) -> float | None:
    """Sum of the answered sections / (5 x answered sections) x 100 (DOMAIN.md section 4)."""
    answered = _answered_sections(values, questionnaire, group)
    return stored_value(sum(answered) / (5 * len(answered)) * 100) if answered else None


def _number(value: Any, item_type: str) -> float | None:
    """The answer as a number when its JSON type fits the item (no booleans, no strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (item_type == "decimal" and isinstance(value, float)):
        return float(value)
    return None


def _in_range(value: float, spec: ItemSpec) -> bool:
    if spec.options is not None and value not in spec.options:
        return False
    low_ok = spec.minimum is None or value >= spec.minimum
    return low_ok and (spec.maximum is None or value <= spec.maximum)


def _range_rule(spec: ItemSpec) -> str:
    if spec.options:
        return f"must be one of the answer options ({min(spec.options)} to {max(spec.options)})"
    if spec.minimum is None or spec.maximum is None:
        return "is out of range"
    return f"must be from {spec.minimum:g} to {spec.maximum:g}"


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _issue(expression: str, rule: str, code: str = "invalid") -> Issue:
    return Issue(diagnostics=f"{expression}: {rule}", code=code, expression=(expression,))
