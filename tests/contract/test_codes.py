"""painflow_shared.codes is the one home of Painflow's codes: every painflow coding, extension
and closed code list in contracts/ is declared there, and contracts/README.md documents it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import pytest

from painflow_shared import codes
from painflow_shared.codes import (
    CODES,
    BleedingRisk,
    BodyRegion,
    CodeSystem,
    Extension,
    ImagingModality,
    Laterality,
    NextStep,
    PathwayDecision,
    ProcedurePurpose,
    System,
    TaskType,
)
from painflow_shared.contracts import default_contracts_dir
from painflow_shared.events.types import ALL_EVENT_TYPES

CONTRACTS = default_contracts_dir()
PAINFLOW = "https://painflow.dev/fhir/"


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def documents(folder: str) -> list[Any]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((CONTRACTS / folder).glob("*.json"))]


def example_codings() -> set[tuple[str, str]]:
    return {
        (node["system"], node["code"])
        for node in walk(documents("examples"))
        if isinstance(node.get("system"), str) and isinstance(node.get("code"), str)
    }


def schema_code_lists() -> dict[str, set[str]]:
    """system -> every code a schema lists for it (`system` const beside a `code` enum)."""
    found: dict[str, set[str]] = {}
    for node in walk(documents("schemas")):
        properties = node.get("properties")
        if not isinstance(properties, dict):
            continue
        system = (properties.get("system") or {}).get("const")
        listed = (properties.get("code") or {}).get("enum")
        if isinstance(system, str) and isinstance(listed, list):
            found.setdefault(system, set()).update(listed)
    return found


def test_every_painflow_coding_of_the_examples_is_declared() -> None:
    painflow = {(s, c) for s, c in example_codings() if s.startswith(PAINFLOW)}

    assert painflow, "the examples use painflow codes"
    for system, code in painflow:
        assert system in set(CodeSystem), system
        if system == CodeSystem.EVENT_TYPE:
            assert code in ALL_EVENT_TYPES
        else:
            assert code in set(CODES[system]), (system, code)


def test_every_painflow_extension_of_the_examples_is_declared_and_each_is_shown() -> None:
    urls = {
        node["url"]
        for node in walk(documents("examples"))
        if isinstance(node.get("url"), str) and node["url"].startswith(PAINFLOW)
    }

    assert urls == set(Extension)


@pytest.mark.parametrize(
    ("system", "declared"),
    [
        (CodeSystem.NEXT_STEP, NextStep),
        (CodeSystem.PATHWAY_DECISION, PathwayDecision),
        (CodeSystem.BLEEDING_RISK, BleedingRisk),
        (CodeSystem.PROCEDURE_PURPOSE, ProcedurePurpose),
        (CodeSystem.BODY_REGION, BodyRegion),
        (System.DICOM, ImagingModality),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_each_closed_code_list_of_the_schemas_is_the_declared_one(
    system: str, declared: type[StrEnum]
) -> None:
    assert schema_code_lists()[system] == set(declared)


def test_the_schemas_list_only_declared_codes() -> None:
    for system, listed in schema_code_lists().items():
        if system.startswith(PAINFLOW):
            assert listed <= set(CODES[system]), system
    assert schema_code_lists()[System.SNOMED] >= set(Laterality)


def test_the_readme_documents_every_code_system_and_extension() -> None:
    readme = (CONTRACTS / "README.md").read_text("utf-8")

    for url in [*CodeSystem, *Extension]:
        assert f"`{url.removeprefix(PAINFLOW)}`" in readme or url in readme, url
    for code in [*NextStep, *PathwayDecision, *TaskType]:
        assert f"`{code}`" in readme, code


def test_every_painflow_url_is_under_its_base() -> None:
    for system in CodeSystem:
        assert system.startswith(f"{PAINFLOW}CodeSystem/")
    for url in Extension:
        assert url.startswith(f"{PAINFLOW}StructureDefinition/")
    assert set(CODES) == set(CodeSystem) - {CodeSystem.EVENT_TYPE}


def test_a_coding_carries_its_system() -> None:
    assert codes.coding(NextStep.DISCHARGE) == {
        "system": "https://painflow.dev/fhir/CodeSystem/next-step",
        "code": "discharge",
    }
    assert codes.concept(Laterality.LEFT, "Left") == {
        "coding": [{"system": "http://snomed.info/sct", "code": "7771000"}],
        "text": "Left",
    }
    assert codes.coding(TaskType.URGENT_REVIEW, "Urgent clinician review")["display"] == (
        "Urgent clinician review"
    )


def test_the_triage_policys_red_flags_are_the_declared_ones() -> None:
    """The referral service's policy file names its red flags with the declared codes."""
    from painflow_referral import policies

    policy = json.loads(policies.DEFAULT_POLICY.read_text("utf-8"))
    assert {flag["flag"] for flag in policy["red_flags"]} == set(codes.RedFlag)
