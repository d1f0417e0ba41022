"""The clinic in a real browser: a coordinator accepts a referral, a clinician confirms the
decision's order, a scheduler is shown why an unsafe slot is refused, books a safe one and
reschedules it, a nurse records an outcome, and the journey's chart then shows the new point.
Every page is screenshotted and checked with axe-core (no serious or critical violations). What
the people do is done through the pages; what the patient and the EHR do (refer, answer the
intake, the proceduralist's record) over HTTP."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any

import pytest

from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.testing import journey_content as content
from painflow_shared.testing.journey import MBB
from painflow_shared.testing.journey_http import instant

from .conftest import REPO, SHOTS, Browser, checked, provenances, shoot, sign_in, staged_events

pytestmark = pytest.mark.integration
DOCS_IMAGE = REPO / "docs" / "images" / "journey.png"
CT = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]}
ORDERED = "painflow.assessment.procedure-ordered"


def test_the_clinic_walks_a_patient_from_triage_to_the_chart(
    browser: Browser, driver: Any, platform: Any
):
    driver.refer()
    task = driver.wait("triage", "the triage Task", driver.triage_task)

    coordinator = sign_in(browser, "coordinator", "/triage")
    row = coordinator.locator(f"#task-{task['id']}")
    assert "Fast track" in row.inner_text()
    checked(coordinator, "triage")
    row.get_by_role("button", name="Accept").click()
    assert "Referral accepted" in coordinator.get_by_role("status").inner_text()
    # accepted, or already moved on: intake starting sets the Task in progress
    assert driver.triage_task()["status"] in ("accepted", "in-progress")
    assert coordinator.locator(f"#task-{task['id']}").count() == 0

    driver.answer_intake()
    driver.wait_decision()
    order_id = driver.wait_order(step="decision", code=MBB, based_on=None)
    clinician = sign_in(browser, "clinician", "/intake")
    assert "Interventional procedure" in clinician.inner_text("main")
    checked(clinician, "intake")
    confirm(clinician, driver, platform, order_id)

    safe, unsafe = rooms_for(driver, order_id)
    scheduler = sign_in(browser, "scheduler", f"/bookings?week={safe['start'][:10]}")
    order = scheduler.locator(f"#order-{order_id}")
    assert "Earliest safe start" in order.inner_text()
    checked(scheduler, "bookings")
    order.get_by_label("Slot", exact=True).select_option(unsafe["id"])
    order.get_by_role("button", name="Book").click()
    refusal = scheduler.get_by_role("alert").inner_text()
    assert "refused" in refusal and "wrong imaging modality" in refusal
    assert "Appointment.slot[0]" in refusal
    shoot(scheduler, "bookings-refused")
    order = scheduler.locator(f"#order-{order_id}")
    order.get_by_label("Slot", exact=True).select_option(safe["id"])
    order.get_by_role("button", name="Book").click()
    shoot(scheduler, "bookings-booked")
    booked_message = scheduler.locator(".flash").first.inner_text()
    assert "Booked Appointment/" in booked_message, booked_message
    booked = driver.get(
        "scheduling", "/Appointment", params={"based-on": f"ServiceRequest/{order_id}"}
    )
    assert [e["resource"]["status"] for e in booked["entry"]] == ["booked"]
    later = reschedule(scheduler, driver, booked["entry"][0]["resource"]["id"], safe)

    procedure_id = perform(driver, order_id, later)
    outcome_task = driver.wait_plan(procedure_id)[0]
    nurse = sign_in(browser, "nurse", "/followups")
    article = nurse.locator(f"#task-{outcome_task['id']}")
    checked(nurse, "followups")
    article.get_by_label("Your pain right now").fill("2")
    article.get_by_label("How much of your usual pain").fill("75")
    article.get_by_role("button", name="Record outcome").click()
    assert "Outcome recorded" in nurse.get_by_role("status").inner_text()

    patient_id = driver.result.patient_id
    nurse.goto(f"/patients/{patient_id}")
    nrs = nurse.locator("figure.chart").first
    driver.wait("journey", "the new NRS point on the chart", lambda: _has_point(nurse, nrs))
    assert (nrs.locator("g.point.marked title").last.text_content() or "").startswith("NRS 2")
    assert "baseline 7" in nrs.inner_text()
    checked(nurse, "journey")
    if os.environ.get("PAINFLOW_SCREENSHOTS_TO_DOCS"):  # make screenshots: the README's image
        shutil.copyfile(SHOTS / "journey.png", DOCS_IMAGE)

    tablet = sign_in(browser, "nurse", f"/patients/{patient_id}")
    tablet.set_viewport_size({"width": 820, "height": 1180})
    shoot(tablet, "journey-tablet")


def confirm(clinician: Any, driver: Any, platform: Any, order_id: str) -> None:
    """The clinician confirms the decision's order: a Provenance naming them as verifier, and
    the order is neither changed nor ordered again (no second procedure-ordered event)."""
    events = staged_events(platform, "assessment", order_id)
    before = driver.get("assessment", f"/ServiceRequest/{order_id}")
    review = clinician.locator(f"form[action='/intake/orders/{order_id}']")
    review.get_by_label("Clinician's reason").fill("facet pattern on examination")
    review.get_by_role("button", name="Confirm").click()
    assert f"ServiceRequest/{order_id}: confirmed" in clinician.get_by_role("status").inner_text()
    shoot(clinician, "intake-confirmed")
    assert staged_events(platform, "assessment", order_id) == events
    assert ORDERED not in events  # the decision's order came with the completed event
    assert driver.get("assessment", f"/ServiceRequest/{order_id}") == before  # unchanged
    [record] = provenances(driver, order_id)
    assert record["agent"][0]["who"]["display"] == "clinician"
    assert record["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    assert record["reason"] == [{"text": "confirm: facet pattern on examination"}]


def reschedule(scheduler: Any, driver: Any, appointment_id: str, slot: dict[str, Any]) -> Any:
    """The scheduler moves the booking to a fluoroscopy slot 90 minutes later."""
    later = slot_in(driver, driver.fluoroscopy_room(), slot, timedelta(minutes=90))
    scheduler.goto(f"/bookings?week={later['start'][:10]}")
    row = scheduler.locator(f"#appointment-{appointment_id}")
    row.get_by_label("New slot").select_option(later["id"])
    row.get_by_role("button", name="Reschedule").click()
    message = scheduler.get_by_role("status").inner_text()
    assert f"Appointment/{appointment_id}: rescheduled" in message, message
    checked(scheduler, "bookings-rescheduled")
    row = scheduler.locator(f"#appointment-{appointment_id}")
    assert later["start"][:16].replace("T", " ") in row.inner_text()
    stored = driver.get("scheduling", f"/Appointment/{appointment_id}")
    assert stored["status"] == "booked"
    assert [s["reference"].rsplit("/", 1)[-1] for s in stored["slot"]] == [later["id"]]
    assert driver.get("scheduling", f"/Slot/{slot['id']}")["status"] == "free"
    return later


def slot_in(driver: Any, schedule_id: str, like: dict[str, Any], after: timedelta) -> Any:
    """A free slot in ``schedule_id`` as long as ``like``, ``after`` its start."""
    start = instant(like["start"]) + after
    length = instant(like["end"]) - instant(like["start"])
    body = {
        "resourceType": "Slot",
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": "free",
        "start": fhir_instant(start),
        "end": fhir_instant(start + length),
    }
    return driver.post("scheduling", "/Slot", body, step="rooms")


def _has_point(page: Any, chart: Any) -> bool:
    page.reload()
    return "NRS 2 " in " ".join(chart.locator("g.point title").all_text_contents())


def rooms_for(driver: Any, order_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fluoroscopy slot at the earliest safe start and a CT slot an hour later (the order
    needs fluoroscopy: booking the CT one is refused)."""
    order = driver.get("scheduling", f"/ServiceRequest/{order_id}")
    safe = driver.first_safe_slot(order)
    ct_room = driver.post(
        "scheduling",
        "/Schedule",
        {
            "resourceType": "Schedule",
            "actor": [{"reference": "Location/ct-suite-1"}],
            "serviceType": [CT],
        },
        step="rooms",
    )
    start = instant(safe["start"]) + timedelta(hours=1)
    unsafe = driver.post(
        "scheduling",
        "/Slot",
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{ct_room['id']}"},
            "status": "free",
            "start": fhir_instant(start),
            "end": fhir_instant(start + timedelta(minutes=60)),
        },
        step="rooms",
    )
    return safe, unsafe


def perform(driver: Any, order_id: str, slot: dict[str, Any]) -> str:
    order = driver.get("scheduling", f"/ServiceRequest/{order_id}")
    start = instant(slot["start"])
    record = content.procedure_record(order, start, max(utcnow(), start))
    return str(driver.post("scheduling", "/Procedure", record, step="procedure")["id"])
