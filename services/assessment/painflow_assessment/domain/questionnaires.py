"""A QuestionnaireResponse checked against its Questionnaire (both plain FHIR JSON dicts).

``validate_response`` returns either the problems (each with a FHIRPath-like ``expression`` and the
rule it breaks, never the submitted value) or the validated answers by linkId, each with its score:
a choice's ``ordinalValue`` from the Questionnaire, a number's own value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from painflow_assessment.domain.policy import Coding
from painflow_assessment.domain.problems import Problem

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
ACCEPTED_STATUSES = frozenset({"completed", "amended"})

# item type -> the answer value[x] elements it accepts
_VALUE_KEYS: Mapping[str, tuple[str, ...]] = {
    "boolean": ("valueBoolean",),
    "integer": ("valueInteger",),
    "decimal": ("valueDecimal",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"),
    "quantity": ("valueQuantity",),
    "reference": ("valueReference",),
    "attachment": ("valueAttachment",),
}

AnswerValue = bool | int | float | str | Coding | dict[str, Any]


@dataclass(frozen=True)
class Answer:
    link_id: str
    value: AnswerValue
    score: float | None  # ordinalValue of a choice; the number of an integer or decimal
    expression: str


@dataclass(frozen=True)
class Answers:
    """The validated answers of one response, in document order (nested items flattened)."""

    questionnaire: str
    items: tuple[Answer, ...]

    def all(self, link_id: str) -> tuple[Answer, ...]:
        return tuple(a for a in self.items if a.link_id == link_id)

    def first(self, link_id: str) -> Answer | None:
        found = self.all(link_id)
        return found[0] if found else None

    def score(self, link_id: str) -> float | None:
        answer = self.first(link_id)
        return answer.score if answer else None


def validate_response(
    questionnaire: Mapping[str, Any], response: Mapping[str, Any]
) -> list[Problem] | Answers:
    """The problems of ``response`` against ``questionnaire``, or its validated answers."""
    walk = _Walk()
    walk.header(questionnaire, response)
    walk.items(questionnaire.get("item") or [], response.get("item"), "QuestionnaireResponse")
    if walk.problems:
        return walk.problems
    return Answers(str(questionnaire.get("url")), tuple(walk.answers))


def canonical_url(canonical: str) -> tuple[str, str | None]:
    """``url|version`` -> (url, version)."""
    url, _, version = canonical.partition("|")
    return url, version or None


@dataclass
class _Walk:
    problems: list[Problem] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def problem(self, expression: str, rule: str, message: str) -> None:
        self.problems.append(Problem(expression, rule, message))

    def header(self, questionnaire: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        if response.get("resourceType") != "QuestionnaireResponse":
            self.problem(
                "QuestionnaireResponse", "resource-type", "must be a QuestionnaireResponse"
            )
        canonical = response.get("questionnaire")
        url, version = canonical_url(canonical if isinstance(canonical, str) else "")
        if url != questionnaire.get("url") or version not in (None, questionnaire.get("version")):
            self.problem(
                "QuestionnaireResponse.questionnaire",
                "questionnaire",
                "must be the canonical URL (and version) of the questionnaire answered",
            )
        if response.get("status") not in ACCEPTED_STATUSES:
            self.problem(
                "QuestionnaireResponse.status", "status", "status must be completed or amended"
            )

    def items(self, defs: Sequence[Mapping[str, Any]], given: Any, path: str) -> None:
        if given is not None and not isinstance(given, list):
            self.problem(f"{path}.item", "structure", "item must be a list")
            return
        by_id = {d["linkId"]: d for d in defs}
        seen: Counter[str] = Counter()
        for index, item in enumerate(given or []):
            here = f"{path}.item[{index}]"
            link_id = item.get("linkId") if isinstance(item, dict) else None
            definition = by_id.get(link_id) if isinstance(link_id, str) else None
            if definition is None or not isinstance(link_id, str):
                self.problem(f"{here}.linkId", "unknown-item", "linkId is not an item here")
                continue
            seen[link_id] += 1
            if seen[link_id] > 1 and not definition.get("repeats"):
                self.problem(here, "repeats", f"item '{link_id}' does not repeat")
            self.item(definition, item, here)
        for definition in defs:
            if definition.get("required") and not seen[definition["linkId"]]:
                name = definition["linkId"]
                self.problem(f"{path}.item", "required", f"required item '{name}' is missing")

    def item(self, definition: Mapping[str, Any], item: Mapping[str, Any], here: str) -> None:
        kind, link_id = definition.get("type"), definition["linkId"]
        children = definition.get("item") or []
        if kind in ("group", "display"):
            if item.get("answer"):
                self.problem(f"{here}.answer", "answer-type", f"item '{link_id}' takes no answer")
            self.items(children, item.get("item"), here)
            return
        answers = item.get("answer") or []
        if not isinstance(answers, list):
            self.problem(f"{here}.answer", "structure", "answer must be a list")
            return
        if definition.get("required") and not answers:
            self.problem(f"{here}.answer", "required", f"required item '{link_id}' has no answer")
        if len(answers) > 1 and not definition.get("repeats"):
            self.problem(f"{here}.answer[1]", "repeats", f"item '{link_id}' takes one answer")
        if item.get("item"):
            self.items(children, item.get("item"), here)
        for index, answer in enumerate(answers):
            at = f"{here}.answer[{index}]"
            self.answer(definition, answer if isinstance(answer, dict) else {}, at)
            if isinstance(answer, dict) and answer.get("item"):
                self.items(children, answer.get("item"), at)

    def answer(self, definition: Mapping[str, Any], answer: Mapping[str, Any], at: str) -> None:
        link_id, kind = definition["linkId"], str(definition.get("type"))
        keys = [k for k in answer if k.startswith("value")]
        allowed = _VALUE_KEYS.get(kind, ())
        if len(keys) != 1 or keys[0] not in allowed or not _right_type(keys[0], answer[keys[0]]):
            wanted = " or ".join(allowed) or "no value"
            message = f"answer to item '{link_id}' must be {wanted} (item type {kind})"
            self.problem(at, "answer-type", message)
            return
        value = answer[keys[0]]
        if keys[0] == "valueCoding":
            self.choice(definition, value, at)
        elif self.in_range(definition, value, at):
            score = float(value) if kind in ("integer", "decimal") else None
            self.answers.append(Answer(link_id, value, score, at))

    def choice(self, definition: Mapping[str, Any], value: Mapping[str, Any], at: str) -> None:
        link_id = definition["linkId"]
        for option in definition.get("answerOption") or []:
            coding = option.get("valueCoding") or {}
            if (coding.get("system"), coding.get("code")) == (
                value.get("system"),
                value.get("code"),
            ):
                found = Coding(coding["system"], coding["code"], coding.get("display"))
                score = _extension_value(option, ORDINAL_VALUE)
                self.answers.append(Answer(link_id, found, score, at))
                return
        message = f"answer to item '{link_id}' is not one of its answer options"
        self.problem(at, "not-an-option", message)

    def in_range(self, definition: Mapping[str, Any], value: Any, at: str) -> bool:
        link_id = definition["linkId"]
        if isinstance(value, str):
            pattern = definition_regex(definition)
            if pattern is not None and not re.fullmatch(pattern, value):
                self.problem(
                    at, "pattern", f"answer to item '{link_id}' does not match its pattern"
                )
                return False
            return True
        low, high = _extension_value(definition, MIN_VALUE), _extension_value(definition, MAX_VALUE)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if low is not None and value < low:
                self.problem(at, "out-of-range", f"answer to item '{link_id}' is below {low:g}")
                return False
            if high is not None and value > high:
                self.problem(at, "out-of-range", f"answer to item '{link_id}' is above {high:g}")
                return False
        return True


def definition_regex(definition: Mapping[str, Any]) -> str | None:
    for extension in definition.get("extension") or []:
        if extension.get("url") == REGEX and isinstance(extension.get("valueString"), str):
            return str(extension["valueString"])
    return None


def _extension_value(element: Mapping[str, Any], url: str) -> float | None:
    for extension in element.get("extension") or []:
        if extension.get("url") == url:
            for key in ("valueDecimal", "valueInteger"):
                if isinstance(extension.get(key), int | float):
                    return float(extension[key])
    return None


def _right_type(key: str, value: Any) -> bool:
    if key == "valueBoolean":
        return isinstance(value, bool)
    if key == "valueInteger":
        return isinstance(value, int) and not isinstance(value, bool)
    if key == "valueDecimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if key in ("valueCoding", "valueQuantity", "valueReference", "valueAttachment"):
        return isinstance(value, dict) and (
            key != "valueCoding" or isinstance(value.get("code"), str)
        )
    return isinstance(value, str)
