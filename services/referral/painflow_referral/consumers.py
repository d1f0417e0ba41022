"""Follow-up events close the loop back to the referrer: the triage Task moves on.

An accepted referral goes in-progress when follow-up starts (a follow-up plan, an outcome);
a ``next-step`` that recommends discharge completes it. The EHR sees this on the Task.
"""

from __future__ import annotations

from painflow_referral.cases import open_cases, set_task_status
from painflow_referral.context import IntakeContext
from painflow_shared.codes import CodeSystem, NextStep
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.types import FollowupEvent

NEXT_STEP_SYSTEM = CodeSystem.NEXT_STEP


def advance_referrals(ctx: IntakeContext, event: Envelope) -> None:
    target = "completed" if _recommends_discharge(event) else "in-progress"
    for case in open_cases(ctx, event.patient_id):
        status = ctx.store.read("Task", case.task_id)["status"]
        if status == "accepted" or (status == "in-progress" and target == "completed"):
            set_task_status(ctx, case, target, _reason(target))


def _recommends_discharge(event: Envelope) -> bool:
    if event.type != FollowupEvent.NEXT_STEP:
        return False
    for resource_type in ("ServiceRequest", "CarePlan"):
        for resource in event.resources(resource_type):
            concept = resource.get("code") or {}
            codings = concept.get("coding", []) if isinstance(concept, dict) else []
            if any(
                c.get("system") == NEXT_STEP_SYSTEM and c.get("code") == NextStep.DISCHARGE
                for c in codings
            ):
                return True
    return False


def _reason(target: str) -> str:
    return "discharged by the pain program" if target == "completed" else "follow-up under way"
