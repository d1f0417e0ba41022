"""Loads the follow-up policy files at the edge into the frozen values the domain reads.

``policies/followup-plans-v1.json`` (time points per procedure type), ``progression-v1.json``
(the next-step rules), ``outcome-measures-v1.json`` (clinically important change) and
``questionnaires/outcome-v1.json`` (the outcome Questionnaire). A site may point at its own
copies; the site setting ``mbb_threshold`` picks the medial branch block threshold among the
options the progression policy lists (80 by default, or 50). A file that does not fit raises
PolicyError at start-up, never later in a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

from painflow_followup.domain.outcome_response import ItemSpec, OutcomeQuestionnaire
from painflow_followup.domain.outcomes import ChangeRule, Combine, FunctionMeasure, MeasurePolicy
from painflow_followup.domain.plan_policy import Baseline, PlanPolicy, ProcedureType, TimePoint
from painflow_followup.domain.progression_policy import ProgressionPolicy, Rule, RuleKind
from painflow_followup.domain.timing import Align, Offset
from painflow_shared.codes import NextStep

_HERE = Path(__file__).resolve().parent
PLANS_FILE = _HERE / "policies" / "followup-plans-v1.json"
PROGRESSION_FILE = _HERE / "policies" / "progression-v1.json"
MEASURES_FILE = _HERE / "policies" / "outcome-measures-v1.json"
OUTCOME_QUESTIONNAIRE_FILE = _HERE / "questionnaires" / "outcome-v1.json"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"


class PolicyError(ValueError):
    """A policy file (or the site's threshold setting) that the service cannot run with."""


@dataclass(frozen=True)
class FollowupPolicies:
    plans: PlanPolicy
    progression: ProgressionPolicy
    measures: MeasurePolicy
    questionnaire: OutcomeQuestionnaire
    questionnaire_resource: dict[str, Any]  # the Questionnaire as served


def load_policies(
    *,
    mbb_threshold: int | None = None,
    plans_file: Path = PLANS_FILE,
    progression_file: Path = PROGRESSION_FILE,
    measures_file: Path = MEASURES_FILE,
    questionnaire_file: Path = OUTCOME_QUESTIONNAIRE_FILE,
) -> FollowupPolicies:
    """Every follow-up policy; ``mbb_threshold`` is the site setting (None: the default)."""
    plans = load_plan_policy(plans_file)
    resource = _read(questionnaire_file)
    return FollowupPolicies(
        plans=plans,
        progression=load_progression_policy(progression_file, plans, mbb_threshold=mbb_threshold),
        measures=load_measure_policy(measures_file),
        questionnaire=outcome_questionnaire(resource),
        questionnaire_resource=resource,
    )


def policy_documents(mbb_threshold: int | None = None) -> dict[str, dict[str, Any]]:
    """The shipped documents as the service runs with them (GET /policies/{name}): in the
    progression document the site's medial branch block threshold is the ``default`` option,
    so that read with no setting it means what the service applies."""
    progression = _read(PROGRESSION_FILE)
    section = progression["medial_branch_block_threshold"]
    picked = {**section, "default": _mbb_option(section, mbb_threshold)["percent"]}
    return {
        "followup-plans": _read(PLANS_FILE),
        "progression": {**progression, "medial_branch_block_threshold": picked},
        "outcome-measures": _read(MEASURES_FILE),
    }


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        reason = exc.__class__.__name__
        raise PolicyError(f"{path.name}: cannot be read as JSON ({reason})") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path.name}: must be a JSON object")
    return data


# ------------------------------------------------------------------ plans


def load_plan_policy(path: Path = PLANS_FILE) -> PlanPolicy:
    data = _read(path)
    try:
        sources = data["sources"]
        program = data["program"]
        return PlanPolicy(
            name=str(data["policy"]),
            version=str(data["version"]),
            procedure_types=tuple(_procedure_type(t, sources) for t in data["procedure_types"]),
            program_time_points=tuple(
                _time_point(tp, program=True) for tp in program["time_points"]
            ),
            program_source=_source_text(program["source"], sources),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(f"{path.name}: {exc.__class__.__name__} {exc}") from exc


def _procedure_type(data: dict[str, Any], sources: dict[str, str]) -> ProcedureType:
    return ProcedureType(
        id=str(data["id"]),
        label=str(data["label"]),
        cpt=frozenset(str(c) for c in data["cpt"]),
        purposes=frozenset(str(p) for p in data.get("purposes") or []),
        time_points=tuple(_time_point(tp) for tp in data["time_points"]),
        program=bool(data["program"]),
        source=_source_text(data["source"], sources),
        uncertain=bool(data.get("uncertain", True)),
    )


def _time_point(data: dict[str, Any], *, program: bool = False) -> TimePoint:
    return TimePoint(
        id=str(data["id"]),
        label=str(data["label"]),
        at=_offset(data["at"]),
        window_start=_offset(data["window_start"]),
        window_end=_offset(data["window_end"]),
        align=Align(data["align"]),
        measures=tuple(str(m) for m in data["measures"]),
        baseline=Baseline(data.get("baseline", Baseline.INTAKE)),
        program=program,
    )


def _offset(data: dict[str, Any]) -> Offset:
    unknown = set(data) - {"months", "days", "hours"}
    if unknown:
        raise ValueError(f"an offset takes months, days and hours, not {sorted(unknown)}")
    return Offset(**{k: int(v) for k, v in data.items()})


def _source_text(keys: list[str], sources: dict[str, Any]) -> str:
    return "; ".join(_detail(sources[k]) for k in keys)


def _detail(source: Any) -> str:
    return str(source["detail"]) if isinstance(source, dict) else str(source)


# ------------------------------------------------------------------ progression


def load_progression_policy(
    path: Path = PROGRESSION_FILE,
    catalogue: PlanPolicy | None = None,
    *,
    mbb_threshold: int | None = None,
) -> ProgressionPolicy:
    data = _read(path)
    plans = catalogue or load_plan_policy()
    try:
        option = _mbb_option(data["medial_branch_block_threshold"], mbb_threshold)
        rules = tuple(_rule(r, data["sources"], option) for r in data["rules"])
        displays = {NextStep(code): str(text) for code, text in data["next_steps"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(f"{path.name}: {exc.__class__.__name__} {exc}") from exc
    return ProgressionPolicy(
        name=str(data["policy"]),
        version=str(data["version"]),
        rules=rules,
        displays=MappingProxyType(displays),
        catalogue=plans,
        time_point_labels=MappingProxyType(plans.time_point_labels()),
        mbb_threshold=int(option["percent"]),
    )


def _mbb_option(data: dict[str, Any], picked: int | None) -> dict[str, Any]:
    wanted = int(data["default"]) if picked is None else int(picked)
    for option in data["options"]:
        if int(option["percent"]) == wanted:
            return dict(option)
    offered = ", ".join(str(o["percent"]) for o in data["options"])
    raise PolicyError(f"the medial branch block threshold must be one of {offered}")


def _rule(data: dict[str, Any], sources: dict[str, Any], mbb: dict[str, Any]) -> Rule:
    site = data.get("threshold") == "medial-branch-block"
    keys = [*data["source"], *(mbb["source"] if site else [])]
    threshold = data.get("threshold")
    return Rule(
        id=str(data["id"]),
        kind=RuleKind(data["kind"]),
        cite="; ".join(str(sources[k]["cite"]) for k in keys),
        source=_source_text(keys, sources),
        uncertain=bool(data.get("uncertain", True)) or (site and bool(mbb.get("uncertain", True))),
        met=NextStep(data["met"]),
        not_met=NextStep(data["not_met"]) if data.get("not_met") else None,
        advice_met=str(data.get("advice_met") or data.get("advice") or ""),
        advice_not_met=str(data.get("advice_not_met") or ""),
        procedure_types=frozenset(data.get("procedure_types") or []),
        time_points=frozenset(data.get("time_points") or []),
        block=int(data["block"]) if data.get("block") is not None else None,
        threshold=None if site or threshold is None else Fraction(str(threshold)),
        site_threshold=site,
        sustained=bool(data.get("sustained", False)),
        nrs_min_reduction_percent=_fraction(data.get("nrs_min_reduction_percent")),
        function_min_improvement_points=_fraction(data.get("function_min_improvement_points")),
    )


def _fraction(value: Any) -> Fraction | None:
    return None if value is None else Fraction(str(value))


# ------------------------------------------------------------------ outcome measures


def load_measure_policy(path: Path = MEASURES_FILE) -> MeasurePolicy:
    data = _read(path)
    try:
        nrs, relief, pgic = data["nrs"], data["percent_relief"], data["pgic"]
        return MeasurePolicy(
            name=str(data["policy"]),
            version=str(data["version"]),
            nrs_loinc=str(nrs["loinc"]),
            nrs_display=str(nrs["display"]),
            nrs_change=_change_rule(nrs),
            relief_important_percent=Fraction(str(relief["important_percent"])),
            relief_cite=str(relief["cite"]),
            relief_bands=_bands(relief["bands"]),
            functions=MappingProxyType(
                {name: _function(name, f) for name, f in data["function"].items()}
            ),
            function_by_region=MappingProxyType(dict(data["function_measure_by_region"])),
            pgic_min=int(pgic["minimum"]),
            pgic_max=int(pgic["maximum"]),
            pgic_important_min=int(pgic["important_improvement_min"]),
            pgic_cite=str(pgic["cite"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(f"{path.name}: {exc.__class__.__name__} {exc}") from exc


def _bands(bands: list[dict[str, Any]]) -> tuple[tuple[Fraction, str], ...]:
    found = ((Fraction(str(b["min"])), str(b["label"])) for b in bands)
    return tuple(sorted(found, reverse=True))


def _change_rule(data: dict[str, Any]) -> ChangeRule:
    rule = data["important_change"]
    return ChangeRule(
        min_points=_fraction(rule.get("min_points")),
        min_percent=_fraction(rule.get("min_percent")),
        combine=Combine(rule.get("combine", "any")),
        cite=str(data["cite"]),
        uncertain=bool(data.get("uncertain", True)),
    )


def _function(name: str, data: dict[str, Any]) -> FunctionMeasure:
    return FunctionMeasure(
        name=name,
        loinc=str(data["loinc"]),
        display=str(data["display"]),
        change=_change_rule(data),
        min_answered_sections=int(data["min_answered_sections"]),
    )


# ------------------------------------------------------------------ the outcome Questionnaire


def outcome_questionnaire(resource: dict[str, Any]) -> OutcomeQuestionnaire:
    """What validation needs of the Questionnaire: each item's type, options and range."""
    items: dict[str, ItemSpec] = {}
    _collect_items(resource.get("item") or [], None, items)
    if not resource.get("url") or not items:
        raise PolicyError("the outcome Questionnaire needs a url and items")
    return OutcomeQuestionnaire(
        url=str(resource["url"]),
        version=str(resource.get("version") or ""),
        items=MappingProxyType(items),
    )


def _collect_items(
    items: list[dict[str, Any]], parent: str | None, into: dict[str, ItemSpec]
) -> None:
    for item in items:
        extensions = {e["url"]: e for e in item.get("extension") or []}
        options = [o["valueInteger"] for o in item.get("answerOption") or [] if "valueInteger" in o]
        into[item["linkId"]] = ItemSpec(
            link_id=str(item["linkId"]),
            type=str(item["type"]),
            options=frozenset(int(o) for o in options) if options else None,
            minimum=_bound(extensions.get(MIN_VALUE)),
            maximum=_bound(extensions.get(MAX_VALUE)),
            parent=parent,
        )
        _collect_items(item.get("item") or [], str(item["linkId"]), into)


def _bound(extension: dict[str, Any] | None) -> float | None:
    if extension is None:
        return None
    value = extension.get("valueDecimal", extension.get("valueInteger"))
    return None if value is None else float(value)
