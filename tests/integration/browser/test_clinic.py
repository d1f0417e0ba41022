"""The clinic in a real browser: a coordinator accepts a referral, a scheduler is shown why an
unsafe slot is refused and books a safe one, a nurse records an outcome, and the journey's
chart then shows the new point. Every page is screenshotted and checked with axe-core (no
serious or critical violations). What the people do is done through the pages; what the
patient and the EHR do (refer, answer the intake, the proceduralist's record) over HTTP."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any

import httpx
import pytest

from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.testing import journey_content as content
from painflow_shared.testing.journey import MBB, Bases, JourneyDriver
from painflow_shared.testing.journey_http import instant

from ..api import api
from .conftest import REPO, SHOTS, Browser, serious_violations, shoot

pytestmark = pytest.mark.integration
DOCS_IMAGE = REPO / "docs" / "images" / "journey.png"
CT = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]}


def sign_in(browser: Browser, role: str, path: str) -> Any:
    page = browser.page()
    page.goto(path)  # not signed in: the sign-in page, then back here
    page.get_by_role("button", name=f"Sign in as {role}").click()
    page.wait_for_url(f"**{path}")
    return page


def checked(page: Any, name: str) -> None:
    shoot(page, name)
    assert serious_violations(page) == [], name
    assert page.get_by_text("Data read at").is_visible()


@pytest.fixture
def driver(platform: Any) -> Any:
    bases = Bases(**{s: platform.url(s) for s in Bases.__dataclass_fields__})
    journey = JourneyDriver(bases, timeout=60)
    journey.http = httpx.Client(timeout=30, auth=api.auth)
    yield journey
    journey.close()


def test_the_clinic_walks_a_patient_from_triage_to_the_chart(browser: Browser, driver: Any):
    driver.refer()
    task = driver.wait("triage", "the triage Task", driver.triage_task)

    coordinator = sign_in(browser, "coordinator", "/triage")
    row = coordinator.locator(f"#task-{task['id']}")
    assert "Fast track" in row.inner_text()
    checked(coordinator, "triage")
    row.get_by_role("button", name="Accept").click()
    assert "Referral accepted" in coordinator.get_by_role("status").inner_text()
    assert driver.triage_task()["status"] == "accepted"
    assert coordinator.locator(f"#task-{task['id']}").count() == 0

    driver.answer_intake()
    driver.wait_decision()
    order_id = driver.wait_order(step="decision", code=MBB, based_on=None)
    clinician = sign_in(browser, "clinician", "/intake")
    assert "Interventional procedure" in clinician.inner_text("main")
    checked(clinician, "intake")

    safe, unsafe = rooms_for(driver, order_id)
    scheduler = sign_in(browser, "scheduler", f"/bookings?week={safe['start'][:10]}")
    order = scheduler.locator(f"#order-{order_id}")
    assert "Earliest safe start" in order.inner_text()
    checked(scheduler, "bookings")
    order.get_by_label("Slot").select_option(unsafe["id"])
    order.get_by_role("button", name="Book").click()
    refusal = scheduler.get_by_role("alert").inner_text()
    assert "refused" in refusal and "wrong imaging modality" in refusal
    assert "Appointment.slot[0]" in refusal
    shoot(scheduler, "bookings-refused")
    order = scheduler.locator(f"#order-{order_id}")
    order.get_by_label("Slot").select_option(safe["id"])
    order.get_by_role("button", name="Book").click()
    shoot(scheduler, "bookings-booked")
    booked_message = scheduler.locator(".flash").first.inner_text()
    assert "Booked Appointment/" in booked_message, booked_message
    booked = driver.get(
        "scheduling", "/Appointment", params={"based-on": f"ServiceRequest/{order_id}"}
    )
    assert [e["resource"]["status"] for e in booked["entry"]] == ["booked"]

    procedure_id = perform(driver, order_id, safe)
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
