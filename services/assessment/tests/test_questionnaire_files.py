"""The shipped questionnaires are valid FHIR R4 and the policies hang together."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from painflow_assessment.policies import (
    AssessmentPolicies,
    AssessmentPolicyPaths,
    load_assessment_policies,
)
from painflow_shared.codes import Questionnaire as QuestionnaireUrl

FOLDER = AssessmentPolicyPaths().questionnaires
FILES = sorted(FOLDER.glob("*.json"))
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
SCORED = {"phq-9", "gad-7", "odi", "ndi"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_questionnaire_parses_as_fhir_r4b(path: Path) -> None:
    data = json.loads(path.read_text("utf-8"))

    parsed = Questionnaire.model_validate(data)

    assert parsed.url == f"https://painflow.dev/fhir/Questionnaire/{path.stem.rsplit('-v', 1)[0]}"
    assert parsed.version == "1.0.0"
    assert parsed.status == "active"


def test_the_intake_questionnaires_are_exactly_the_canonical_urls(
    policies: AssessmentPolicies,
) -> None:
    intake = {url for url in QuestionnaireUrl if url != QuestionnaireUrl.OUTCOME}

    assert set(policies.questionnaires) == intake


@pytest.mark.parametrize("key", sorted(SCORED))
def test_every_scored_choice_carries_its_score_as_ordinal_value(
    policies: AssessmentPolicies, key: str
) -> None:
    questionnaire = policies.questionnaires[f"https://painflow.dev/fhir/Questionnaire/{key}"]

    for item in questionnaire["item"]:
        scores = [
            ext["valueDecimal"]
            for option in item["answerOption"]
            for ext in option["extension"]
            if ext["url"] == ORDINAL
        ]
        assert item["type"] == "choice"
        assert scores == list(range(len(item["answerOption"])))
        assert all("valueCoding" in option for option in item["answerOption"])


def test_phq9_and_gad7_items_carry_their_loinc_codes(policies: AssessmentPolicies) -> None:
    phq9 = policies.questionnaires[QuestionnaireUrl.PHQ_9]
    gad7 = policies.questionnaires[QuestionnaireUrl.GAD_7]

    assert [i["code"][0]["code"] for i in phq9["item"]][8] == "44260-8"  # item 9, self-harm
    assert phq9["code"][0]["code"] == "44249-1"
    assert gad7["code"][0]["code"] == "69737-5"
    assert all(i["code"][0]["system"] == "http://loinc.org" for i in phq9["item"] + gad7["item"])


def test_ratings_are_integers_with_min_and_max(policies: AssessmentPolicies) -> None:
    history = policies.questionnaires[QuestionnaireUrl.INTAKE_HISTORY]
    pt_weeks = next(i for i in history["item"] if i["linkId"] == "pt-weeks")
    nrs = policies.questionnaires[QuestionnaireUrl.NRS]["item"][0]

    assert pt_weeks["type"] == "integer"
    assert [e["valueInteger"] for e in pt_weeks["extension"]] == [0, 26]
    assert (nrs["linkId"], nrs["type"]) == ("72514-3", "integer")
    assert [e["valueInteger"] for e in nrs["extension"]] == [0, 10]


def test_every_pathway_code_is_in_the_catalogue(policies: AssessmentPolicies) -> None:
    catalogue = policies.pathway.catalogue

    for rule in policies.pathway.procedure_rules:
        assert set(rule.cpt_by_region.values()) <= set(catalogue), rule.info.id
    assert catalogue["90791"].image_guided is False
    assert catalogue["63650"].bleeding_risk == "high"


def test_a_policy_naming_an_unknown_cpt_code_fails_at_load(tmp_path: Path) -> None:
    defaults = AssessmentPolicyPaths()
    pathway = json.loads(defaults.pathway.read_text("utf-8"))
    pathway["procedure_rules"][0]["cpt_by_region"]["lumbar"] = "99999"
    broken = tmp_path / "pathway-v1.json"
    broken.write_text(json.dumps(pathway))

    with pytest.raises(ValueError, match="radicular-esi names CPT 99999"):
        load_assessment_policies(AssessmentPolicyPaths(pathway=broken))


def test_a_site_can_load_its_own_copy_of_a_questionnaire_folder(tmp_path: Path) -> None:
    folder = tmp_path / "questionnaires"
    shutil.copytree(FOLDER, folder)
    newer = json.loads((folder / "nrs-v1.json").read_text("utf-8"))
    (folder / "nrs-v2.json").write_text(json.dumps({**newer, "version": "2.0.0"}))

    policies = load_assessment_policies(AssessmentPolicyPaths(questionnaires=folder))

    assert policies.questionnaires[QuestionnaireUrl.NRS]["version"] == "2.0.0"
