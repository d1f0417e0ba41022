"""The one home of the code systems, codes and extension URLs that more than one service uses.

Painflow's own code systems live under ``https://painflow.dev/fhir/CodeSystem/<name>`` and its
extensions under ``https://painflow.dev/fhir/StructureDefinition/<name>``; contracts/README.md
documents each one, and tests/contract checks that every painflow coding in contracts/ is
declared here. Event types (the ``event-type`` code system) are in ``events/types.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

PAINFLOW_FHIR = "https://painflow.dev/fhir"
_CS = f"{PAINFLOW_FHIR}/CodeSystem"
_SD = f"{PAINFLOW_FHIR}/StructureDefinition"
_Q = f"{PAINFLOW_FHIR}/Questionnaire"


class System(StrEnum):
    """Standard code systems (DOMAIN.md section 8) and the one imaging terminology we use."""

    SNOMED = "http://snomed.info/sct"
    LOINC = "http://loinc.org"
    CPT = "http://www.ama-assn.org/go/cpt"
    ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
    RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
    UCUM = "http://unitsofmeasure.org"
    DICOM = "http://dicom.nema.org/resources/ontology/DCM"


class AuditSystem(StrEnum):
    """The standard code systems of AuditEvent and Provenance (painflow_shared/audit)."""

    RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
    ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
    OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
    SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
    DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"


class CodeSystem(StrEnum):
    """Painflow's own code systems."""

    EVENT_TYPE = f"{_CS}/event-type"  # MessageHeader.eventCoding: the ce_type
    TASK_TYPE = f"{_CS}/task-type"  # Task.code of every Task but the triage one
    TRIAGE_STATUS = f"{_CS}/triage-status"  # the triage Task's businessStatus
    REFERRAL_MILESTONE = f"{_CS}/referral-milestone"  # the triage Task after triage
    RED_FLAG = f"{_CS}/red-flag"
    EPISODE_TYPE = f"{_CS}/episode-type"
    ASSESSMENT = f"{_CS}/assessment"  # assessment-computed observations and flags
    PATHWAY_DECISION = f"{_CS}/pathway-decision"  # in ClinicalImpression.finding
    CARE_ACTIVITY = f"{_CS}/care-activity"  # CarePlan.activity.detail.code
    BLEEDING_RISK = f"{_CS}/bleeding-risk"
    PROCEDURE_PURPOSE = f"{_CS}/procedure-purpose"
    BODY_REGION = f"{_CS}/body-region"
    PROCEDURE_COMPLICATION = f"{_CS}/procedure-complication"
    OUTCOME = f"{_CS}/outcome"  # outcome observations beyond LOINC
    FOLLOWUP_STATUS = f"{_CS}/followup-status"  # an outcome-collection Task's businessStatus
    NEXT_STEP = f"{_CS}/next-step"  # the follow-up decision (ServiceRequest.code)
    PAIN_TYPE = f"{_CS}/pain-type"  # intake-history: what kind of pain
    DISABILITY_SECTION_SCORE = f"{_CS}/disability-section-score"  # ODI/NDI answers, 0-5


class Extension(StrEnum):
    """Painflow's extensions; the value type of each is in contracts/README.md."""

    BLEEDING_RISK = f"{_SD}/bleeding-risk"  # valueCodeableConcept (BleedingRisk)
    IMAGING_MODALITY = f"{_SD}/imaging-modality"  # valueCodeableConcept (ImagingModality)
    EXPECTED_DURATION = f"{_SD}/expected-duration"  # valueDuration in UCUM min
    PROCEDURE_PURPOSE = f"{_SD}/procedure-purpose"  # valueCodeableConcept (ProcedurePurpose)
    SPINAL_LEVEL = f"{_SD}/spinal-level"  # valueString on a bodySite, e.g. L5-S1
    LATERALITY = f"{_SD}/laterality"  # valueCodeableConcept (Laterality) on a bodySite


class Questionnaire(StrEnum):
    """Canonical URLs of the questionnaires: the intake's (assessment) and the outcome's."""

    NRS = f"{_Q}/nrs"
    PEG = f"{_Q}/peg"
    ODI = f"{_Q}/odi"
    NDI = f"{_Q}/ndi"
    PHQ_9 = f"{_Q}/phq-9"
    GAD_7 = f"{_Q}/gad-7"
    INTAKE_HISTORY = f"{_Q}/intake-history"
    MEDICATIONS = f"{_Q}/medications"
    OUTCOME = f"{_Q}/outcome"


class TaskType(StrEnum):
    """What a Task asks for (Task.code in CodeSystem.TASK_TYPE)."""

    INTAKE = "intake"  # the parent of an intake's questionnaire Tasks
    QUESTIONNAIRE = "questionnaire"  # one questionnaire for the patient
    URGENT_REVIEW = "urgent-review"  # a clinician reviews now (priority stat)
    SCHEDULE_PROCEDURE = "schedule-procedure"  # book an order; businessStatus = what blocks it
    MEDICATION_HOLD = "medication-hold"  # a hold instruction for one antithrombotic
    PRE_PROCEDURE_LAB = "pre-procedure-lab"  # e.g. an INR before the procedure
    PRIOR_AUTHORIZATION = "prior-authorization"  # the payer's authorization number
    MED_RECONCILIATION = "med-reconciliation"  # a nurse confirms drugs and allergies
    OUTCOME_COLLECTION = "outcome-collection"  # one follow-up time point


class TriageStatus(StrEnum):
    """The referral's triage outcome, in the triage Task's businessStatus."""

    REDIRECTED = "redirected"
    ON_HOLD = "on-hold"
    FAST_TRACK = "fast-track"
    AWAITING_COORDINATOR = "awaiting-coordinator"


class ReferralMilestone(StrEnum):
    """A step of the pain program after triage, in the referral's triage Task's businessStatus
    and output, so the referring EHR hears it (CodeSystem.REFERRAL_MILESTONE)."""

    INTAKE_STARTED = "intake-started"
    PATHWAY_DECISION = "pathway-decision"  # output: the decision code and its explanation
    SAFETY_REVIEW = "safety-review"
    PROCEDURE_ORDERED = "procedure-ordered"
    ORDER_REVOKED = "order-revoked"
    PROCEDURE_BOOKED = "procedure-booked"
    APPOINTMENT_CANCELLED = "appointment-cancelled"
    APPOINTMENT_RESCHEDULED = "appointment-rescheduled"
    APPOINTMENT_NOSHOW = "appointment-noshow"
    PROCEDURE_PERFORMED = "procedure-performed"
    FOLLOWUP_SCHEDULED = "followup-scheduled"
    OUTCOME_RECORDED = "outcome-recorded"
    FOLLOWUP_OVERDUE = "followup-overdue"
    NEXT_STEP = "next-step"  # output: the next-step code and its explanation
    DISCHARGED = "discharged"


class RedFlag(StrEnum):
    """Red flags that send a referral to urgent care (DOMAIN.md section 5)."""

    CAUDA_EQUINA = "cauda-equina"
    INFECTION = "infection"
    MALIGNANCY = "malignancy"
    FRACTURE = "fracture"
    PROGRESSIVE_NEUROLOGICAL_DEFICIT = "progressive-neurological-deficit"
    POST_PROCEDURE_HEMATOMA = "post-procedure-hematoma"


class EpisodeType(StrEnum):
    """EpisodeOfCare.type of the program's episodes."""

    INTERVENTIONAL_PAIN = "interventional-pain"


class AssessmentCode(StrEnum):
    """Observations and flags the assessment computes (CodeSystem.ASSESSMENT)."""

    MME_PER_DAY = "mme-per-day"  # valueQuantity in {MME}/d
    SELF_HARM_RISK = "self-harm-risk"  # the Flag raised by PHQ-9 item 9 above 0


class PathwayDecision(StrEnum):
    """The one decision of an intake, in precedence order (the first that applies wins)."""

    NOT_CANDIDATE_URGENT = "not-candidate-urgent"
    DEFER_BEHAVIOURAL_HEALTH = "defer-behavioural-health"
    CONSERVATIVE_CARE_FIRST = "conservative-care-first"
    PROCEDURE = "procedure"


class CareActivity(StrEnum):
    """Activities of the multidisciplinary CarePlan."""

    PHYSICAL_THERAPY = "physical-therapy"
    COGNITIVE_BEHAVIOURAL_THERAPY = "cognitive-behavioural-therapy"
    MEDICATION_MANAGEMENT = "medication-management"
    INTERVENTIONAL_PROCEDURE = "interventional-procedure"


class BleedingRisk(StrEnum):
    """A procedure's bleeding-risk category (ASRA 2018; ASIPP 2024's moderate = intermediate)."""

    LOW = "low"
    INTERMEDIATE = "intermediate"
    HIGH = "high"


class ProcedurePurpose(StrEnum):
    """Why a procedure is done (DOMAIN.md section 1, Dx / Tx)."""

    DIAGNOSTIC = "diagnostic"
    THERAPEUTIC = "therapeutic"
    DIAGNOSTIC_AND_THERAPEUTIC = "diagnostic-and-therapeutic"
    TRIAL = "trial"  # a screening trial before an implant


class BodyRegion(StrEnum):
    """The region of a procedure's body site: repeat limits and follow-on orders count by it."""

    LUMBAR = "lumbar"
    CERVICAL = "cervical"
    THORACIC = "thoracic"
    SACROILIAC = "sacroiliac"
    PERIPHERAL = "peripheral"


class Complication(StrEnum):
    """Procedure complications (Procedure.complication); a text-only entry still counts."""

    INFECTION = "infection"
    BLEEDING = "bleeding"  # bleeding or haematoma
    NERVE_INJURY = "nerve-injury"
    ALLERGIC_REACTION = "allergic-reaction"
    DURAL_PUNCTURE = "dural-puncture"
    VASOVAGAL = "vasovagal"


class Outcome(StrEnum):
    """Outcome observations that LOINC does not code (CodeSystem.OUTCOME)."""

    PERCENT_RELIEF = "percent-relief"  # valueQuantity in UCUM %
    PGIC = "pgic"  # patient global impression of change, 1-7


class FollowupStatus(StrEnum):
    """An outcome-collection Task's businessStatus."""

    OVERDUE = "overdue"


class NextStep(StrEnum):
    """The follow-up decision after a procedure's outcome (CodeSystem.NEXT_STEP)."""

    SECOND_COMPARATIVE_BLOCK = "second-comparative-block"
    RADIOFREQUENCY_ABLATION = "radiofrequency-ablation"
    PERMANENT_IMPLANT = "permanent-implant"
    REPEAT_WHEN_PAIN_RETURNS = "repeat-when-pain-returns"
    REASSESSMENT = "reassessment"
    URGENT_REVIEW = "urgent-review"
    DISCHARGE = "discharge"


class PainType(StrEnum):
    """The pain's kind, as the patient describes it in intake-history (CodeSystem.PAIN_TYPE)."""

    RADICULAR = "radicular"
    AXIAL = "axial"
    NEUROPATHIC = "neuropathic"
    CANCER = "cancer"
    OTHER = "other"


class DisabilitySectionScore(StrEnum):
    """An ODI or NDI section's answer: its score, 0 (least disability) to 5. The licensed
    statements' wording is a site's data, so each answer is coded by its score alone."""

    SCORE_0 = "0"
    SCORE_1 = "1"
    SCORE_2 = "2"
    SCORE_3 = "3"
    SCORE_4 = "4"
    SCORE_5 = "5"


class ImagingModality(StrEnum):
    """A room's or a procedure's imaging, as DICOM modality codes (System.DICOM)."""

    FLUOROSCOPY = "RF"
    CT = "CT"
    ULTRASOUND = "US"


class Laterality(StrEnum):
    """A body site's side (SNOMED CT, FHIR's bodysite-laterality value set)."""

    LEFT = "7771000"
    RIGHT = "24028007"
    BILATERAL = "51440002"


SURGICAL_PROCEDURE = "387713003"  # SNOMED CT: ServiceRequest/Procedure.category of procedures

CODES: Mapping[str, type[StrEnum]] = MappingProxyType(
    {
        CodeSystem.TASK_TYPE: TaskType,
        CodeSystem.TRIAGE_STATUS: TriageStatus,
        CodeSystem.RED_FLAG: RedFlag,
        CodeSystem.EPISODE_TYPE: EpisodeType,
        CodeSystem.ASSESSMENT: AssessmentCode,
        CodeSystem.PATHWAY_DECISION: PathwayDecision,
        CodeSystem.CARE_ACTIVITY: CareActivity,
        CodeSystem.BLEEDING_RISK: BleedingRisk,
        CodeSystem.PROCEDURE_PURPOSE: ProcedurePurpose,
        CodeSystem.BODY_REGION: BodyRegion,
        CodeSystem.PROCEDURE_COMPLICATION: Complication,
        CodeSystem.OUTCOME: Outcome,
        CodeSystem.FOLLOWUP_STATUS: FollowupStatus,
        CodeSystem.NEXT_STEP: NextStep,
        CodeSystem.REFERRAL_MILESTONE: ReferralMilestone,
        CodeSystem.PAIN_TYPE: PainType,
        CodeSystem.DISABILITY_SECTION_SCORE: DisabilitySectionScore,
    }
)
_SYSTEM_OF: Mapping[type[StrEnum], str] = MappingProxyType(
    {
        **{codes: system for system, codes in CODES.items()},
        ImagingModality: System.DICOM,
        Laterality: System.SNOMED,
    }
)


def coding(code: StrEnum, display: str | None = None) -> dict[str, str]:
    """A FHIR Coding for one of the codes above, with its system."""
    found = {"system": str(_SYSTEM_OF[type(code)]), "code": code.value}
    return {**found, "display": display} if display else found


def concept(code: StrEnum, text: str | None = None) -> dict[str, object]:
    """A CodeableConcept holding one of the codes above."""
    found: dict[str, object] = {"coding": [coding(code)]}
    return {**found, "text": text} if text else found
