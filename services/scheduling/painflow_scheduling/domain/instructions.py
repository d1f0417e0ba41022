"""FHIR JSON the scheduling service stores for an order: its Tasks, and the constraint report.

Every Task starts ``requested``. A hold instruction reaches the patient only when the prescribing
clinician accepts it (stopping an anticoagulant or antiplatelet can harm: stents, atrial
fibrillation). Builders set no ``id``: the store assigns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.authorization import AUTHORIZATION_NUMBER, AuthorizationRequirement
from painflow_scheduling.domain.booking_parameters import booking_constraints_parameters
from painflow_scheduling.domain.fhir_values import in_zone, plain_time, zone
from painflow_scheduling.domain.holds import DrugHold, HoldFlag
from painflow_scheduling.domain.order import OrderFacts
from painflow_scheduling.domain.policy import LabCondition
from painflow_shared.codes import TaskType, concept
from painflow_shared.fhir.dates import fhir_instant

__all__ = [
    "booking_constraints_parameters",
    "hold_instruction_task",
    "hold_instruction_tasks",
    "med_reconciliation_task",
    "pre_procedure_lab_task",
    "prior_authorization_task",
    "schedule_procedure_task",
]

RECONCILIATION_DAYS_BEFORE = 7


def _task(kind: TaskType, order: OrderFacts, authored: datetime, **elements: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": concept(kind),
        "basedOn": [{"reference": order.reference}] if order.reference else [],
        "for": {"reference": order.patient} if order.patient else None,
        "authoredOn": fhir_instant(authored),
    }
    return {k: v for k, v in {**base, **elements}.items() if v not in (None, [], "")}


def hold_instruction_tasks(
    holds: Sequence[DrugHold],
    *,
    order: OrderFacts,
    appointment_start: datetime,
    appointment_end: datetime,
    authored: datetime,
    site_zone: str | ZoneInfo = "UTC",
    prescriber: str | None = None,
) -> list[dict[str, Any]]:
    """One Task per blocking hold of a drug still taken (a drug stopped earlier needs none)."""
    return [
        hold_instruction_task(
            h,
            order=order,
            appointment_start=appointment_start,
            appointment_end=appointment_end,
            authored=authored,
            site_zone=site_zone,
            prescriber=prescriber,
        )
        for h in holds
        if h.blocking and h.still_taken
    ]


def hold_instruction_task(
    hold: DrugHold,
    *,
    order: OrderFacts,
    appointment_start: datetime,
    appointment_end: datetime,
    authored: datetime,
    site_zone: str | ZoneInfo = "UTC",
    prescriber: str | None = None,
) -> dict[str, Any]:
    """``restriction.period``: from the latest safe last dose to the appointment's end plus the
    restart interval; ``owner`` the prescriber who must accept it before the patient sees it."""
    tz = zone(site_zone)
    latest_dose = appointment_start - timedelta(hours=hold.hold_hours or 0)
    restart = appointment_end + timedelta(hours=hold.restart_hours or 0)
    unknown = HoldFlag.ASPIRIN_INDICATION_UNKNOWN in hold.flags
    return _task(
        TaskType.MEDICATION_HOLD,
        order,
        authored,
        focus={"reference": hold.statement} if hold.statement else None,
        owner={"reference": prescriber} if prescriber else None,
        businessStatus={"text": "indication unknown: prescriber asked"} if unknown else None,
        restriction={"period": {"start": fhir_instant(latest_dose), "end": fhir_instant(restart)}},
        description=_patient_words(hold, appointment_start, latest_dose, restart, tz),
        note=[{"text": _prescriber_words(hold)}],
        input=_hold_inputs(hold),
    )


def _patient_words(
    hold: DrugHold, start: datetime, latest_dose: datetime, restart: datetime, tz: ZoneInfo
) -> str:
    words = [
        f"Your procedure is on {plain_time(start, tz)}.",
        f"Take your last dose of {hold.drug_display} no later than {plain_time(latest_dose, tz)}.",
        f"You may start it again from {plain_time(restart, tz)}, unless your doctor says "
        "otherwise.",
        f"Times are {tz.key} time.",
        "Do not stop this medicine until your care team confirms this plan with you.",
    ]
    if HoldFlag.NEEDS_INR in hold.flags:
        words.append("You also need a blood test (INR) before the procedure.")
    if HoldFlag.ASPIRIN_INDICATION_UNKNOWN in hold.flags:
        words.append(
            "We do not know why you take aspirin, so we are asking the doctor who prescribed "
            "it whether it is safe to stop."
        )
    return " ".join(words)


def _prescriber_words(hold: DrugHold) -> str:
    text = (
        f"Hold of {hold.hold_hours} h before a {hold.category.value}-risk procedure, restart "
        f"{hold.restart_hours} h after it ends ({hold.variant} row; {hold.source}). Accept this "
        f"Task to send the instruction to the patient; reject it if stopping is unsafe."
    )
    if HoldFlag.ASPIRIN_INDICATION_UNKNOWN in hold.flags:
        text += (
            " The indication for aspirin is not recorded (no reasonCode): please confirm whether "
            "it is primary or secondary prevention (stent, coronary, cerebrovascular or "
            "peripheral arterial disease) before accepting; secondary prevention calls for a "
            "shared assessment instead of this hold."
        )
    if HoldFlag.FALLBACK_TO_ASRA in hold.flags:
        text += " The selected table does not list this drug: the ASRA 2018 row applies."
    if HoldFlag.UNCERTAIN in hold.flags:
        text += " This table entry is marked uncertain: review it."
    return text


def _hold_inputs(hold: DrugHold) -> list[dict[str, Any]]:
    values: list[tuple[str, str, Any]] = [
        ("hold-hours", "valueInteger", hold.hold_hours),
        ("restart-hours", "valueInteger", hold.restart_hours),
        ("source", "valueString", hold.source),
    ]
    return [{"type": {"text": n}, key: v} for n, key, v in values if v is not None]


def pre_procedure_lab_task(
    hold: DrugHold,
    condition: LabCondition,
    *,
    order: OrderFacts,
    appointment_start: datetime,
    authored: datetime,
) -> dict[str, Any]:
    """A lab the hold's table adds (warfarin: a normal INR), due before the procedure starts."""
    return _task(
        TaskType.PRE_PROCEDURE_LAB,
        order,
        authored,
        focus={"reference": order.reference} if order.reference else None,
        reasonReference={"reference": hold.statement} if hold.statement else None,
        restriction={"period": {"end": fhir_instant(appointment_start)}},
        description=(
            f"Before the procedure: {condition.text} ({hold.drug_display} hold; {hold.table})."
        ),
        input=[
            {"type": {"text": "lab"}, "valueCodeableConcept": {"coding": [dict(condition.lab)]}}
        ],
    )


def schedule_procedure_task(
    order: OrderFacts,
    *,
    blockers: Sequence[str],
    authored: datetime,
    earliest_start: datetime | None = None,
    site_zone: str | ZoneInfo = "UTC",
) -> dict[str, Any]:
    """The order's scheduling request; ``businessStatus`` says what still blocks booking."""
    tz = zone(site_zone)
    status = "blocked: " + "; ".join(blockers) if blockers else "ready to book"
    if earliest_start is not None:
        status += f"; earliest safe start {in_zone(earliest_start, tz)}"
    return _task(
        TaskType.SCHEDULE_PROCEDURE,
        order,
        authored,
        focus={"reference": order.reference} if order.reference else None,
        businessStatus={"text": status},
    )


def prior_authorization_task(
    requirement: AuthorizationRequirement, *, order: OrderFacts, authored: datetime
) -> dict[str, Any]:
    """Completed (``PATCH``/``PUT``) with ``output`` type text ``authorization-number``."""
    return _task(
        TaskType.PRIOR_AUTHORIZATION,
        order,
        authored,
        focus={"reference": order.reference} if order.reference else None,
        insurance=[{"reference": requirement.coverage}] if requirement.coverage else None,
        businessStatus={"text": "awaiting authorization"},
        description=(
            f"Prior authorization for CPT {requirement.cpt} ({requirement.rule.name}) from the "
            f"payer of {requirement.coverage or 'the Coverage'}."
        ),
        note=[{"text": f"Complete with output type.text '{AUTHORIZATION_NUMBER}' = the number."}],
    )


def med_reconciliation_task(
    *,
    order: OrderFacts,
    appointment: str,
    appointment_start: datetime,
    authored: datetime,
    days_before: int = RECONCILIATION_DAYS_BEFORE,
) -> dict[str, Any]:
    """Due from ``days_before`` days before the procedure (or now, when that is sooner)."""
    opens = max(appointment_start - timedelta(days=days_before), authored)
    return _task(
        TaskType.MED_RECONCILIATION,
        order,
        authored,
        focus={"reference": appointment},
        restriction={
            "period": {"start": fhir_instant(opens), "end": fhir_instant(appointment_start)}
        },
        description=(
            "Confirm the patient's current antithrombotics and allergies before the procedure."
        ),
    )
