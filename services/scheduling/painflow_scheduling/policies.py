"""Loads the scheduling policy files (policies/*.json) into the domain's frozen dataclasses.

The edge's job: ``create_app`` calls ``load_scheduling_policies`` once with the hold table the
settings name (``SCHEDULING_HOLD_POLICY``) and hands the result to the handlers; domain functions
take the data, never a path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from painflow_scheduling.domain.holds import HoldFlag
from painflow_scheduling.domain.policy import (
    Action,
    Agent,
    AgentCode,
    AgentPolicy,
    AuthorizationRule,
    CategoryRule,
    CodeList,
    CodePrefix,
    DrugRule,
    HoldTable,
    HoldTables,
    Interval,
    LabCondition,
    Payer,
    PayerPolicy,
    RangeEnd,
    RenalPolicy,
    RepeatLimitPolicy,
    RepeatRule,
    SchedulingPolicies,
    Selector,
    Variant,
    VariantCondition,
)
from painflow_shared.codes import BleedingRisk

POLICY_DIR = Path(__file__).resolve().parent / "policies"
HOLD_TABLES = {"asra-2018": "holds-asra-2018-v1.json", "asipp-2024": "holds-asipp-2024-v1.json"}
HoldTableName = Literal["asra-2018", "asipp-2024"]
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))? (h|d)$")


def policy_files(
    hold_table: HoldTableName = "asra-2018", directory: Path = POLICY_DIR
) -> dict[str, Path]:
    """The files the service runs with, by the names GET /policies/{name} serves them under."""
    if hold_table not in HOLD_TABLES:
        raise ValueError(f"unknown hold table {hold_table!r}: one of {sorted(HOLD_TABLES)}")
    return {
        "holds": directory / HOLD_TABLES[hold_table],
        "holds-fallback": directory / HOLD_TABLES["asra-2018"],  # for a drug the table lacks
        "agents": directory / "agents-v1.json",
        "repeat-limits": directory / "repeat-limits-v1.json",
        "payer-authorization": directory / "payer-authorization-v1.json",
    }


def load_scheduling_policies(
    hold_table: HoldTableName = "asra-2018", directory: Path = POLICY_DIR
) -> SchedulingPolicies:
    files = policy_files(hold_table, directory)
    asra = load_hold_table(files["holds-fallback"])
    selected = asra if hold_table == "asra-2018" else load_hold_table(files["holds"])
    return SchedulingPolicies(
        holds=HoldTables(selected=selected, fallback=asra),
        agents=load_agent_policy(files["agents"]),
        repeat_limits=load_repeat_limits(files["repeat-limits"]),
        payers=load_payer_policy(files["payer-authorization"]),
    )


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a policy file is a JSON object")
    return data


def parse_interval(text: str | None) -> Interval | None:
    """``"6 d"``, ``"12-24 h"`` -> an Interval keeping both ends of a range."""
    if text is None:
        return None
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"an interval is 'N h', 'N d' or 'A-B d', not {text!r}")
    low = float(match[1])
    return Interval(low=low, high=float(match[2] or low), unit=match[3])


def load_hold_table(path: Path) -> HoldTable:
    data = _read(path)
    return HoldTable(
        table=data["table"],
        version=data["version"],
        guideline=data["guideline"],
        range_end=RangeEnd(data.get("range_end", "longer")),
        drugs=tuple(_drug(d) for d in data["drugs"]),
        conditions={k: _condition(k, v) for k, v in data.get("conditions", {}).items()},
        secondary_prevention=_code_list(data.get("secondary_prevention", {})),
        renal=RenalPolicy(
            egfr_loinc=tuple(data.get("renal", {}).get("egfr_loinc", ())),
            max_age_days=int(data.get("renal", {}).get("max_age_days", 90)),
        ),
    )


def _drug(data: dict[str, Any]) -> DrugRule:
    return DrugRule(
        drug=data["drug"],
        display=data["display"],
        rxnorm=tuple(data["rxnorm"]),
        names=tuple(n.lower() for n in data["names"]),
        selector=Selector(data.get("selector", "none")),
        uncertain=bool(data.get("uncertain", False)),
        variants=tuple(_variant(v) for v in data["variants"]),
    )


def _variant(data: dict[str, Any]) -> Variant:
    when = data.get("when", {})
    categories = {BleedingRisk(k): _category(v) for k, v in data["categories"].items()}
    if set(categories) != set(BleedingRisk):
        raise ValueError(f"variant {data['variant']!r} must give every bleeding-risk category")
    return Variant(
        variant=data["variant"],
        categories=categories,
        when=VariantCondition(
            indication=when.get("indication"),
            daily_mg_above=when.get("daily_mg_above"),
            daily_mg_at_most=when.get("daily_mg_at_most"),
            egfr_at_least=when.get("egfr_at_least"),
            egfr_below=when.get("egfr_below"),
            route_codes=tuple(when.get("route_codes", ())),
            route_words=tuple(w.lower() for w in when.get("route_words", ())),
        ),
    )


def _category(data: dict[str, Any]) -> CategoryRule:
    action = Action(data["action"])
    hold = parse_interval(data.get("hold"))
    if (action is Action.HOLD) != (hold is not None):
        raise ValueError("a hold entry needs its interval, and only a hold entry has one")
    return CategoryRule(
        action=action,
        hold=hold,
        restart=parse_interval(data.get("restart")),
        conditions=tuple(data.get("conditions", ())),
        note=data.get("note", ""),
        uncertain=bool(data.get("uncertain", False)),
    )


def _condition(key: str, data: dict[str, Any]) -> LabCondition:
    return LabCondition(
        key=key,
        flag=HoldFlag(data["flag"]).value,
        text=data["text"],
        lab=dict(data["lab"]),
        uncertain=bool(data.get("uncertain", False)),
    )


def _code_list(data: dict[str, Any]) -> CodeList:
    return CodeList(
        codes=tuple(CodePrefix(c["system"], c["prefix"]) for c in data.get("codes", ())),
        words=tuple(w.lower() for w in data.get("words", ())),
        uncertain=bool(data.get("uncertain", True)),
    )


def load_agent_policy(path: Path) -> AgentPolicy:
    data = _read(path)
    procedures: dict[str, tuple[str, ...]] = {}
    for entry in data["procedures"]:
        procedures.update({cpt: tuple(entry["agents"]) for cpt in entry["cpt"]})
    return AgentPolicy(
        version=data["version"],
        agents=tuple(
            Agent(
                agent=a["agent"],
                display=a["display"],
                codes=tuple(AgentCode(c["system"], c["code"]) for c in a["codes"]),
                words=tuple(w.lower() for w in a["words"]),
                modalities=tuple(a.get("modalities", ())),
            )
            for a in data["agents"]
        ),
        procedures=procedures,
        default_agents=tuple(data["default_agents"]),
        override_kinds=tuple(data.get("override_kinds", ("premedication", "alternative-agent"))),
    )


def load_repeat_limits(path: Path) -> RepeatLimitPolicy:
    data = _read(path)
    return RepeatLimitPolicy(
        version=data["version"],
        rules=tuple(
            RepeatRule(
                rule=r["rule"],
                display=r["display"],
                cpt=frozenset(r["cpt"]),
                max_in_window=int(r["max_in_window"]),
                window_months=int(r["window_months"]),
                min_interval_days=int(r.get("min_interval_days", 0)),
                exclude_purposes=frozenset(r.get("exclude_purposes", ())),
            )
            for r in data["rules"]
        ),
    )


def load_payer_policy(path: Path) -> PayerPolicy:
    data = _read(path)
    return PayerPolicy(
        version=data["version"],
        default=_authorization_rules(data["default"]["requires"]),
        payers=tuple(
            Payer(
                payer=p["payer"],
                display=p.get("display", p["payer"]),
                identifiers=tuple((i["system"], i["value"]) for i in p.get("identifiers", ())),
                names=tuple(n.lower() for n in p.get("names", ())),
                requires=_authorization_rules(p["requires"]),
            )
            for p in data.get("payers", ())
        ),
    )


def _authorization_rules(rules: list[dict[str, Any]]) -> tuple[AuthorizationRule, ...]:
    return tuple(
        AuthorizationRule(r["cpt"], r.get("name", r["cpt"]), r.get("purpose")) for r in rules
    )
