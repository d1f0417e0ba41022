"""The whole journey, driven as people and an EHR drive it: HTTP calls only, every hand-off
between the four services over their own Kafka events (``make demo`` and
tests/integration/test_whole_journey.py).

One acute-injury patient: the EHR refers (facet pain, lumbar, left, injured three weeks ago),
the coordinator accepts the triage Task, the patient answers the intake, the assessment orders
the first medial branch block, the scheduler opens a fluoroscopy slot at the earliest safe start
and books it, the proceduralist records the block with the pre-procedure NRS, the nurse records
the relief, the follow-up service decides the next step and the assessment service orders it,
and so on to the radiofrequency ablation, its outcomes and the discharge (or, when the second
block gives too little relief, to the reassessment). After every call the driver waits, bounded,
for the service that must act on the event, and a timeout names the step.

Time: everything happens now, in real time, except what cannot: the ablation's 6-week, 3- and
6-month outcomes are answered with ``authored`` inside each outcome Task's window (the Task's
``restriction.period``), because a demo cannot wait six months. The blocks' own time point (0 to
8 hours after the block) is open right after the procedure, so their relief is recorded now.
This module imports no service package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from painflow_shared.codes import CodeSystem, Extension, NextStep, System
from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.testing import journey_content as content
from painflow_shared.testing.journey_http import Bases, JourneyError, ServiceClient, instant

Resource = dict[str, Any]
MBB, RFA = "64493", "64635"
FLUOROSCOPY = {"coding": [{"system": str(System.DICOM), "code": "RF", "display": "Fluoroscopy"}]}
RFA_OUTCOMES = (("6w", 3, 70.0, None), ("3m", 2, 75.0, 1), ("6m", 2, 80.0, 1))  # nrs, relief, odi


@dataclass
class JourneyResult:
    patient_id: str = ""
    referral_id: str = ""
    orders: list[str] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    journey: Resource = field(default_factory=dict)
    triage_task: Resource = field(default_factory=dict)


class JourneyDriver(ServiceClient):
    """Walks one patient through the pathway; ``run`` returns what happened."""

    def __init__(
        self,
        bases: Bases,
        *,
        timeout: float = 20.0,
        say: Callable[[str], None] = lambda _: None,
        injured_weeks_ago: int = 3,
        auth: httpx.Auth | None = None,
    ) -> None:
        super().__init__(bases, timeout, auth)
        self.say = say
        self.onset = date.today() - timedelta(weeks=injured_weeks_ago)
        self.result = JourneyResult()
        self.schedule_id: str | None = None

    # ------------------------------------------------------------------ the pathway

    def run(self, *, first_relief: float = 85, second_relief: float = 90) -> JourneyResult:
        self.refer()
        self.accept()
        self.answer_intake()
        self.wait_decision()
        first = self.wait_order(step="decision", code=MBB, based_on=None)
        self.block(first, first_relief, NextStep.SECOND_COMPARATIVE_BLOCK)
        second = self.wait_order(step="second block ordered", code=MBB, based_on=first)
        if second_relief < 80:
            self.block(second, second_relief, NextStep.REASSESSMENT)
            self.wait_reassessment()
            return self.finish(last_step="intake")  # the reassessment's new intake round
        self.block(second, second_relief, NextStep.RADIOFREQUENCY_ABLATION)
        ablation = self.wait_order(step="ablation ordered", code=RFA, based_on=second)
        self.ablation(ablation)
        return self.finish(last_step="next-step")

    def refer(self) -> None:
        bundle = content.referral_transaction(self.onset, utcnow())
        body = self.post("referral", "", bundle, step="referral", status=200)
        locations = [e["response"]["location"] for e in body["entry"]]
        self.result.patient_id = _located(locations, "Patient")
        self.result.referral_id = _located(locations, "ServiceRequest")
        self.say(f"referral posted: ServiceRequest/{self.result.referral_id}")

    def accept(self) -> None:
        task = self.wait("triage", "the triage Task at the referral service", self.triage_task)
        patch = [{"op": "replace", "path": "/status", "value": "accepted"}]
        self.patch("referral", f"/Task/{task['id']}", patch, step="triage")
        self.say(f"coordinator accepted Task/{task['id']}")

    def answer_intake(self) -> None:
        tasks = self.wait("intake", "questionnaire Tasks at the assessment service", self.intake)
        for task in tasks:
            canonical = next(i["valueCanonical"] for i in task["input"] if "valueCanonical" in i)
            response = content.intake_response(canonical, self.result.patient_id, utcnow())
            self.post("assessment", "/QuestionnaireResponse", response, step="intake")
        self.say(f"patient answered {len(tasks)} questionnaires")

    def block(self, order_id: str, relief: float, expected: NextStep) -> None:
        procedure_id = self.perform(order_id)
        self.wait_plan(procedure_id)
        observation = content.relief_observation(
            self.result.patient_id, procedure_id, relief, utcnow()
        )
        self.post("followup", "/Observation", observation, step="outcome")
        self.say(f"nurse recorded {relief:g}% relief after the block")
        self.wait_next_step(expected)

    def ablation(self, order_id: str) -> None:
        procedure_id = self.perform(order_id)
        tasks = {_time_point(t): t for t in self.wait_plan(procedure_id)}
        for point, nrs, relief, odi in RFA_OUTCOMES:
            window = tasks[point]["restriction"]["period"]
            at = instant(window["start"]) + timedelta(hours=12)  # inside the day-aligned window
            response = content.outcome_response(
                self.result.patient_id, procedure_id, at, nrs=nrs, relief=relief, odi=odi
            )
            self.post("followup", "/QuestionnaireResponse", response, step=f"{point} outcome")
            self.say(f"{point} outcome: NRS {nrs}, {relief:g}% relief (dated {at.date()})")
        self.wait_next_step(NextStep.DISCHARGE)
        self.wait("discharge", "the triage Task completed", self.discharged)

    def wait_decision(self) -> None:
        """The pathway decision; a decision other than a procedure ends the journey here."""
        params = {"patient": f"Patient/{self.result.patient_id}"}

        def impression() -> Resource | None:
            found = self.get("assessment", "/ClinicalImpression", params=params).get("entry")
            return found[0]["resource"] if found else None

        decision = self.wait("decision", "the ClinicalImpression", impression)
        codes = [
            c.get("code")
            for f in decision.get("finding") or []
            for c in (f.get("itemCodeableConcept") or {}).get("coding") or []
        ]
        if "procedure" not in codes:
            raise JourneyError(
                f"step 'decision': {codes}, not a procedure: {decision.get('summary')}"
            )
        self.say(f"assessment decided: procedure ({decision.get('summary', '')[:90]}...)")

    def wait_reassessment(self) -> None:
        self.wait("reassessment", "a new intake round at the assessment service", self.intake)
        self.say("assessment reopened the intake")

    def finish(self, last_step: str) -> JourneyResult:
        """The journey once it shows the last proposal and ends in ``last_step``: what the
        proposal caused (a new intake round) reaches the journey over Kafka after it."""
        last = self.result.next_steps[-1]

        def journey() -> Resource | None:
            body = self.get("followup", f"/journeys/{self.result.patient_id}", fhir=False)
            events = body.get("events", [])
            proposed = any(e["summary"].get("next_step") == last for e in events)
            return body if proposed and events[-1].get("step") == last_step else None

        self.result.journey = self.wait("journey", f"the journey to show {last}", journey)
        self.result.triage_task = self.triage_task() or {}
        return self.result

    # ------------------------------------------------------------------ scheduling

    def perform(self, order_id: str) -> str:
        order = self.wait(
            "scheduling",
            f"ServiceRequest/{order_id} at the scheduling service",
            lambda: self.get("scheduling", f"/ServiceRequest/{order_id}", missing_ok=True),
        )
        slot = self.first_safe_slot(order)
        appointment = {
            "resourceType": "Appointment",
            "status": "booked",
            "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
            "slot": [{"reference": f"Slot/{slot['id']}"}],
            "participant": [{"actor": order["subject"], "status": "accepted"}],
        }
        booked = self.post("scheduling", "/Appointment", appointment, step="booking")
        self.say(f"scheduler booked Appointment/{booked['id']} at {booked['start']}")
        start = instant(slot["start"])
        record = content.procedure_record(order, start, max(utcnow(), start))
        procedure = self.post("scheduling", "/Procedure", record, step="procedure")
        self.result.procedures.append(procedure["id"])
        self.say(f"proceduralist recorded Procedure/{procedure['id']} ({_cpt(order)})")
        return str(procedure["id"])

    def first_safe_slot(self, order: Resource) -> Resource:
        """The scheduler opens a slot at the earliest safe start, then books the first free one."""
        schedule = self.fluoroscopy_room()
        constraints = self.get("scheduling", f"/ServiceRequest/{order['id']}/$booking-constraints")
        earliest = instant(_parameter(constraints, "earliest-start"))
        minutes = _expected_minutes(order)
        slot = {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule}"},
            "status": "free",
            "start": fhir_instant(earliest),
            "end": fhir_instant(earliest + timedelta(minutes=minutes)),
        }
        self.post("scheduling", "/Slot", slot, step="booking")
        params = {"schedule": f"Schedule/{schedule}", "status": "free"}
        free = [
            s["resource"]
            for s in self.get("scheduling", "/Slot", params=params).get("entry", [])
            if instant(s["resource"]["start"]) >= earliest
        ]
        return min(free, key=lambda s: instant(s["start"]))

    def fluoroscopy_room(self) -> str:
        if self.schedule_id is None:
            schedule = {
                "resourceType": "Schedule",
                "actor": [{"reference": "Location/fluoro-suite-1"}],
                "serviceType": [FLUOROSCOPY],
            }
            self.schedule_id = str(
                self.post("scheduling", "/Schedule", schedule, step="booking")["id"]
            )
        return self.schedule_id

    # ------------------------------------------------------------------ what to wait for

    def triage_task(self) -> Resource | None:
        params = {"focus": f"ServiceRequest/{self.result.referral_id}"}
        entries = self.get("referral", "/Task", params=params).get("entry") or []
        return entries[0]["resource"] if entries else None

    def discharged(self) -> Resource | None:
        task = self.triage_task()
        return task if task and task["status"] == "completed" else None

    def intake(self) -> list[Resource]:
        params = {
            "patient": f"Patient/{self.result.patient_id}",
            "code": f"{CodeSystem.TASK_TYPE}|questionnaire",
            "status": "requested",
        }
        return [
            e["resource"] for e in self.get("assessment", "/Task", params=params).get("entry") or []
        ]

    def wait_order(self, *, step: str, code: str, based_on: str | None) -> str:
        def order() -> str | None:
            params = {"patient": f"Patient/{self.result.patient_id}"}
            if based_on:
                params["based-on"] = f"ServiceRequest/{based_on}"
            for entry in (
                self.get("assessment", "/ServiceRequest", params=params).get("entry") or []
            ):
                resource = entry["resource"]
                if _cpt(resource) == code and resource["id"] not in self.result.orders:
                    return str(resource["id"])
            return None

        order_id = self.wait(step, f"a {code} order at the assessment service", order)
        self.result.orders.append(order_id)
        self.say(f"assessment ordered ServiceRequest/{order_id} ({code})")
        return order_id

    def wait_plan(self, procedure_id: str) -> list[Resource]:
        def tasks() -> list[Resource]:
            params = {
                "patient": f"Patient/{self.result.patient_id}",
                "code": f"{CodeSystem.TASK_TYPE}|outcome-collection",
                "status": "requested",
            }
            found = self.get("followup", "/Task", params=params).get("entry") or []
            mine = [e["resource"] for e in found]
            return [
                t for t in mine if t["focus"]["reference"].endswith(f"Procedure/{procedure_id}")
            ]

        found = self.wait("follow-up plan", "outcome Tasks at the follow-up service", tasks)
        self.say(f"follow-up opened {len(found)} outcome Task(s)")
        return found

    def wait_next_step(self, expected: NextStep) -> None:
        def proposed() -> bool:
            params = {
                "patient": f"Patient/{self.result.patient_id}",
                "code": f"{CodeSystem.NEXT_STEP}|{expected}",
            }
            return bool(self.get("followup", "/ServiceRequest", params=params).get("total"))

        self.wait("next step", f"a {expected} proposal at the follow-up service", proposed)
        self.result.next_steps.append(str(expected))
        self.say(f"follow-up proposed {expected}")


def _located(locations: list[str], resource_type: str) -> str:
    return next(loc.split("/")[1] for loc in locations if loc.startswith(f"{resource_type}/"))


def _parameter(parameters: Resource, name: str) -> str:
    return str(next(p["valueDateTime"] for p in parameters["parameter"] if p["name"] == name))


def _cpt(order: Resource) -> str | None:
    codings = (order.get("code") or {}).get("coding") or []
    return next((str(c["code"]) for c in codings if c.get("system") == System.CPT), None)


def _expected_minutes(order: Resource) -> int:
    for extension in order.get("extension") or []:
        if extension.get("url") == Extension.EXPECTED_DURATION:
            return int(extension["valueDuration"]["value"])
    return 60


def _time_point(task: Resource) -> str:
    for item in task.get("input") or []:
        if (item.get("type") or {}).get("text") == "time-point":
            return str(item.get("valueString") or item.get("valueCode"))
    return str(task.get("description", "")).split()[0]


def milestone(task: Resource) -> str | None:
    """The referral-milestone code of a triage Task's businessStatus."""
    for coding in (task.get("businessStatus") or {}).get("coding") or []:
        if coding.get("system") == CodeSystem.REFERRAL_MILESTONE:
            return str(coding.get("code"))
    return None


__all__ = [
    "Bases",
    "JourneyDriver",
    "JourneyError",
    "JourneyResult",
    "milestone",
]
