"""Reads the assessment's versioned policy files and questionnaires into the domain's frozen data.

The only place that touches the files: the domain takes the ``AssessmentPolicies`` this builds.
A site points any path at its own reviewed copy; a file that does not hang together (a pathway
rule naming a CPT code the catalogue lacks, a scored item its questionnaire does not have) fails
at start with a ValueError naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from painflow_assessment.domain.policy import (
    Band,
    CatalogueEntry,
    Coding,
    InstrumentSpec,
    IntakePolicy,
    MmePolicy,
    MmeThreshold,
    NextStepRule,
    Opioid,
    PathwayPolicy,
    ProcedureRule,
    Product,
    RegionPrefix,
    RuleInfo,
    ScoringPolicy,
    Site,
)
from painflow_assessment.domain.scoring import SCORING_METHODS

PACKAGE = Path(__file__).resolve().parent
POLICIES = PACKAGE / "policies"


@dataclass(frozen=True)
class AssessmentPolicyPaths:
    scoring: Path = POLICIES / "scoring-v1.json"
    mme: Path = POLICIES / "mme-v1.json"
    rxnorm_strengths: Path = POLICIES / "rxnorm-strengths-v1.json"
    pathway: Path = POLICIES / "pathway-v1.json"
    procedure_catalogue: Path = POLICIES / "procedure-catalogue-v1.json"
    intake: Path = POLICIES / "intake-v1.json"
    questionnaires: Path = PACKAGE / "questionnaires"

    def documents(self) -> dict[str, Path]:
        """The policy files by the names GET /policies/{name} serves them under."""
        return {
            "scoring": self.scoring,
            "mme": self.mme,
            "rxnorm-strengths": self.rxnorm_strengths,
            "pathway": self.pathway,
            "procedure-catalogue": self.procedure_catalogue,
            "intake": self.intake,
        }


@dataclass(frozen=True)
class AssessmentPolicies:
    scoring: ScoringPolicy
    mme: MmePolicy
    pathway: PathwayPolicy
    intake: IntakePolicy
    questionnaires: Mapping[str, dict[str, Any]]  # by canonical URL


def load_assessment_policies(paths: AssessmentPolicyPaths | None = None) -> AssessmentPolicies:
    paths = paths or AssessmentPolicyPaths()
    questionnaires = load_questionnaires(paths.questionnaires)
    policies = AssessmentPolicies(
        scoring=scoring_policy(_read(paths.scoring)),
        mme=mme_policy(_read(paths.mme), _read(paths.rxnorm_strengths)),
        pathway=pathway_policy(_read(paths.pathway), _read(paths.procedure_catalogue)),
        intake=intake_policy(_read(paths.intake)),
        questionnaires=questionnaires,
    )
    _check(policies)
    return policies


def load_questionnaires(folder: Path) -> Mapping[str, dict[str, Any]]:
    """Every ``<name>-v<n>.json`` Questionnaire, by canonical URL (the highest version wins)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*-v*.json"), key=lambda p: _file_version(p)):
        questionnaire = _read(path)
        if questionnaire.get("resourceType") != "Questionnaire" or not questionnaire.get("url"):
            raise ValueError(f"{path.name}: not a Questionnaire with a url")
        found[questionnaire["url"]] = questionnaire
    return MappingProxyType(found)


def _file_version(path: Path) -> int:
    return int(path.stem.rsplit("-v", 1)[1])


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: must hold a JSON object")
    return data


def _coding(data: Mapping[str, Any]) -> Coding:
    return Coding(data["system"], data["code"], data.get("display"))


def scoring_policy(data: Mapping[str, Any]) -> ScoringPolicy:
    specs = [_instrument(entry) for entry in data["instruments"]]
    return ScoringPolicy(
        data["policy"], data["version"], MappingProxyType({s.questionnaire: s for s in specs})
    )


def _instrument(entry: Mapping[str, Any]) -> InstrumentSpec:
    if entry["method"] not in SCORING_METHODS:
        raise ValueError(f"scoring: {entry['key']} has an unknown method")
    return InstrumentSpec(
        key=entry["key"],
        questionnaire=entry["questionnaire"],
        method=entry["method"],
        items=tuple(entry["items"]),
        score_code=_coding(entry["score_code"]),
        value_type=entry["value"],
        source=entry["source"],
        unit=(entry.get("unit") or {}).get("code"),
        decimals=int(entry.get("decimals", 0)),
        bands=tuple(Band(b["band"], float(b["from"])) for b in entry.get("bands", [])),
        section_max=int(entry.get("section_max", 0)),
        max_skipped=int(entry.get("max_skipped", 0)),
        safety_item=entry.get("safety_item"),
        uncertain=entry.get("uncertain"),
    )


def mme_policy(data: Mapping[str, Any], strengths: Mapping[str, Any]) -> MmePolicy:
    opioids = {o["rxnorm"]: Opioid(**o) for o in data["opioids"]}
    products = {p["rxnorm"]: Product(**p) for p in strengths["products"]}
    for product in products.values():
        if product.ingredient not in opioids:
            raise ValueError(f"rxnorm strengths: {product.rxnorm} names an unknown ingredient")
    return MmePolicy(
        name=data["policy"],
        version=data["version"],
        source="; ".join(data["sources"]),
        opioids=MappingProxyType(opioids),
        products=MappingProxyType(products),
        thresholds=tuple(
            sorted((MmeThreshold(**t) for t in data["thresholds"]), key=lambda t: t.at)
        ),
        counted_statuses=frozenset(data["counted_statuses"]),
    )


def pathway_policy(data: Mapping[str, Any], catalogue: Mapping[str, Any]) -> PathwayPolicy:
    rules = {key: _rule_info(key, value) for key, value in data["rules"].items()}
    return PathwayPolicy(
        name=data["policy"],
        version=data["version"],
        rules=MappingProxyType(rules),
        phq9_defer_at=int(data["rules"]["defer-behavioural-health"]["phq9_at"]),
        gad7_defer_at=int(data["rules"]["defer-behavioural-health"]["gad7_at"]),
        pt_weeks_at_least=int(data["rules"]["conservative-care-first"]["pt_weeks_at_least"]),
        medication_management_at_mme=float(data["medication_management_at_mme"]),
        medication_management_source=data["medication_management_source"],
        procedure_rules=tuple(_procedure_rule(rule) for rule in data["procedure_rules"]),
        catalogue=MappingProxyType({e["cpt"]: _entry(e) for e in catalogue["procedures"]}),
        levels_to_confirm=MappingProxyType(dict(data.get("levels_to_confirm", {}))),
        levels_to_confirm_note=data.get("levels_to_confirm_note", ""),
    )


def _rule_info(key: str, value: Mapping[str, Any]) -> RuleInfo:
    return RuleInfo(key, value["title"], value["source"], value.get("uncertain"))


def _procedure_rule(rule: Mapping[str, Any]) -> ProcedureRule:
    match, interlaminar, site = rule["match"], rule.get("interlaminar", {}), rule.get("site", {})
    sites = {k: _site(v) for k, v in site.get("by_region", {}).items()}
    if "region" in site:
        sites["*"] = _site(site)
    return ProcedureRule(
        info=_rule_info(rule["id"], rule),
        condition_prefixes=tuple(match.get("condition_prefixes", [])),
        pain_types=tuple(match.get("pain_types", [])),
        regions=tuple(match.get("regions", [])),
        requires_refractory=bool(match.get("requires_refractory", False)),
        cpt_by_region=MappingProxyType(dict(rule["cpt_by_region"])),
        interlaminar_cpt_by_region=MappingProxyType(dict(interlaminar.get("cpt_by_region", {}))),
        max_transforaminal_levels=int(interlaminar.get("max_transforaminal_levels", 0)),
        sites=MappingProxyType(sites),
        default_region=rule.get("default_region"),
        extra_orders=tuple(rule.get("extra_orders", [])),
        purpose=rule.get("purpose"),
        needs_pt_first=rule.get("needs_pt_first"),
    )


def _site(value: Mapping[str, Any]) -> Site:
    return Site(value["region"], tuple(value.get("levels", [])))


def _entry(e: Mapping[str, Any]) -> CatalogueEntry:
    return CatalogueEntry(
        cpt=e["cpt"],
        display=e["display"],
        expected_minutes=int(e["expected_minutes"]),
        purpose=e["purpose"],
        image_guided=bool(e["image_guided"]),
        needs_pt_first=bool(e["needs_pt_first"]),
        regions=tuple(e.get("regions", [])),
        bleeding_risk=e.get("bleeding_risk"),
        bleeding_risk_by_region=MappingProxyType(dict(e.get("bleeding_risk_by_region", {}))),
        imaging=e.get("imaging"),
        uncertain=e.get("uncertain"),
    )


def intake_policy(data: Mapping[str, Any]) -> IntakePolicy:
    return IntakePolicy(
        name=data["policy"],
        version=data["version"],
        always=tuple(data["always"]),
        by_region=MappingProxyType({k: tuple(v) for k, v in data["by_region"].items()}),
        region_by_condition=tuple(RegionPrefix(**entry) for entry in data["region_by_condition"]),
        next_steps=MappingProxyType(
            {
                code: NextStepRule(
                    step["action"],
                    step["source"],
                    MappingProxyType(step.get("cpt_by_previous", {})),
                )
                for code, step in data["next_steps"].items()
            }
        ),
    )


def _check(policies: AssessmentPolicies) -> None:
    """Cross-file consistency: every code and linkId a rule names exists where it points."""
    catalogue = policies.pathway.catalogue
    for rule in policies.pathway.procedure_rules:
        codes = [*rule.cpt_by_region.values(), *rule.interlaminar_cpt_by_region.values()]
        for cpt in [*codes, *rule.extra_orders]:
            if cpt not in catalogue:
                raise ValueError(
                    f"pathway: rule {rule.info.id} names CPT {cpt}, not in the catalogue"
                )
    for code, step in policies.intake.next_steps.items():
        for cpt in [*step.cpt_by_previous, *step.cpt_by_previous.values()]:
            if cpt not in catalogue:
                raise ValueError(f"intake: next step {code} names CPT {cpt}, not in the catalogue")
    for url, spec in policies.scoring.instruments.items():
        questionnaire = policies.questionnaires.get(url)
        link_ids = {item["linkId"] for item in (questionnaire or {}).get("item", [])}
        if questionnaire is None or not set(spec.items) <= link_ids:
            raise ValueError(f"scoring: {spec.key} names items its questionnaire does not have")
    wanted = {
        *policies.intake.always,
        *(u for us in policies.intake.by_region.values() for u in us),
    }
    missing = wanted - set(policies.questionnaires)
    if missing:
        raise ValueError(f"intake: no questionnaire file for {', '.join(sorted(missing))}")
