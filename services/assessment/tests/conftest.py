"""Fixtures for the assessment's pure-domain tests: the shipped policies and response builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from painflow_assessment.policies import AssessmentPolicies, load_assessment_policies
from painflow_assessment.samples import FREQUENCY, GAD7_ITEMS, PHQ9_ITEMS

Q = "https://painflow.dev/fhir/Questionnaire"
LOINC = "http://loinc.org"
SECTION = "https://painflow.dev/fhir/CodeSystem/disability-section-score"

Response = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def policies() -> AssessmentPolicies:
    return load_assessment_policies()


class Build:
    """Builders of QuestionnaireResponses for the tests."""

    @staticmethod
    def response(name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"{Q}/{name}",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "item": items,
        }

    @staticmethod
    def integer(link_id: str, value: Any) -> dict[str, Any]:
        return {"linkId": link_id, "answer": [{"valueInteger": value}]}

    @staticmethod
    def frequency(link_id: str, score: int) -> dict[str, Any]:
        return {
            "linkId": link_id,
            "answer": [{"valueCoding": {"system": LOINC, "code": FREQUENCY[score]}}],
        }

    @staticmethod
    def section(link_id: str, score: int) -> dict[str, Any]:
        return {
            "linkId": link_id,
            "answer": [{"valueCoding": {"system": SECTION, "code": str(score)}}],
        }

    @staticmethod
    def phq9(*scores: int) -> dict[str, Any]:
        return Build.response(
            "phq-9", [Build.frequency(i, s) for i, s in zip(PHQ9_ITEMS, scores, strict=True)]
        )

    @staticmethod
    def gad7(*scores: int) -> dict[str, Any]:
        return Build.response(
            "gad-7", [Build.frequency(i, s) for i, s in zip(GAD7_ITEMS, scores, strict=True)]
        )

    @staticmethod
    def disability(name: str, scores: list[int | None]) -> dict[str, Any]:
        """ODI or NDI sections 1..10; None leaves the section blank."""
        return Build.response(
            name,
            [
                Build.section(f"{name}-{n}", s)
                for n, s in enumerate(scores, start=1)
                if s is not None
            ],
        )

    @staticmethod
    def spread(total: int, items: int) -> list[int]:
        """Item scores 0-3 that add up to ``total``."""
        scores = [min(3, max(0, total - 3 * n)) for n in range(items)]
        assert sum(scores) == total
        return scores


@pytest.fixture
def build() -> type[Build]:
    return Build
