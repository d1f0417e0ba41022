"""Assessment service settings (env prefix ``ASSESSMENT_``).

Each policy file and the questionnaire folder may point at a site's reviewed copy
(``ASSESSMENT_PATHWAY_POLICY_FILE`` and the others below); unset, the shipped v1 files are used.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from painflow_assessment.policies import AssessmentPolicyPaths
from painflow_shared.settings import SharedSettings

_DEFAULT = AssessmentPolicyPaths()


class AssessmentSettings(SharedSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSESSMENT_", extra="ignore", populate_by_name=True
    )

    service_name: str = "assessment"
    port: int = 8002
    scoring_policy_file: Path = _DEFAULT.scoring
    mme_policy_file: Path = _DEFAULT.mme
    rxnorm_strengths_file: Path = _DEFAULT.rxnorm_strengths
    pathway_policy_file: Path = _DEFAULT.pathway
    procedure_catalogue_file: Path = _DEFAULT.procedure_catalogue
    intake_policy_file: Path = _DEFAULT.intake
    questionnaires_dir: Path = _DEFAULT.questionnaires

    def policy_paths(self) -> AssessmentPolicyPaths:
        return AssessmentPolicyPaths(
            scoring=self.scoring_policy_file,
            mme=self.mme_policy_file,
            rxnorm_strengths=self.rxnorm_strengths_file,
            pathway=self.pathway_policy_file,
            procedure_catalogue=self.procedure_catalogue_file,
            intake=self.intake_policy_file,
            questionnaires=self.questionnaires_dir,
        )
