"""The clinic in a real browser, after a booking: a scheduler cancels it, books again and
records a no-show (what the scheduler sees and what the scheduling service stored), then a
clinician overrides (revokes) the order and it leaves the booking board. The referral, its
acceptance and the clinician's direct order come over HTTP, as the EHR sends them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Browser, checked, provenances, sign_in, staged_events

pytestmark = pytest.mark.integration
SCHEDULE = "https://painflow.dev/fhir/CodeSystem/task-type|schedule-procedure"
ORDERED = "painflow.assessment.procedure-ordered"
REVOKED = "painflow.assessment.order-revoked"


def test_a_scheduler_cancels_and_records_a_no_show_and_a_clinician_overrides(
    browser: Browser, driver: Any, platform: Any
):
    driver.refer()
    driver.accept()
    driver.wait("intake", "the patient at the assessment service", driver.intake)
    order_id = direct_order(driver)
    slot = driver.first_safe_slot(driver.get("scheduling", f"/ServiceRequest/{order_id}"))
    scheduler = sign_in(browser, "scheduler", f"/bookings?week={slot['start'][:10]}")

    cancelled = book(scheduler, driver, order_id, slot)
    change(scheduler, cancelled, "Cancel", reason="patient unwell on the day")
    assert f"Appointment/{cancelled}: cancelled" in scheduler.get_by_role("status").inner_text()
    checked(scheduler, "bookings-cancelled")
    stored = driver.get("scheduling", f"/Appointment/{cancelled}")
    assert stored["status"] == "cancelled"
    assert stored["cancelationReason"]["text"] == "patient unwell on the day"
    assert_back_to_book(scheduler, driver, order_id, cancelled, slot)

    missed = book(scheduler, driver, order_id, slot)
    change(scheduler, missed, "No-show")
    message = scheduler.get_by_role("status").inner_text()
    assert f"Appointment/{missed}: marked as a no-show" in message
    checked(scheduler, "bookings-noshow")
    assert driver.get("scheduling", f"/Appointment/{missed}")["status"] == "noshow"
    assert_back_to_book(scheduler, driver, order_id, missed, slot)

    override(browser, driver, platform, order_id)
    driver.wait(
        "revocation",
        "the order revoked at the scheduling service",
        lambda: driver.get("scheduling", f"/ServiceRequest/{order_id}")["status"] == "revoked",
    )
    scheduler.reload()
    assert scheduler.locator(f"#order-{order_id}").count() == 0


def direct_order(driver: Any) -> str:
    """A clinician's direct order (from the EHR, over HTTP): a lumbar transforaminal epidural."""
    body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{driver.result.patient_id}"},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64483"}]},
        "bodySite": [
            {"coding": [{"system": "https://painflow.dev/fhir/CodeSystem/body-region",
                         "code": "lumbar"}]}
        ],
    }  # fmt: skip
    order_id = str(driver.post("assessment", "/ServiceRequest", body, step="order")["id"])
    driver.wait(
        "scheduling",
        f"ServiceRequest/{order_id} at the scheduling service",
        lambda: driver.get("scheduling", f"/ServiceRequest/{order_id}", missing_ok=True),
    )
    return order_id


def book(scheduler: Any, driver: Any, order_id: str, slot: dict[str, Any]) -> str:
    order = scheduler.locator(f"#order-{order_id}")
    order.get_by_label("Slot", exact=True).select_option(slot["id"])
    order.get_by_role("button", name="Book").click()
    message = scheduler.get_by_role("status").inner_text()
    found = re.search(r"Booked Appointment/([\w-]+)", message)
    assert found, message
    return found[1]


def change(scheduler: Any, appointment_id: str, button: str, reason: str = "") -> None:
    row = scheduler.locator(f"#appointment-{appointment_id}")
    if reason:
        row.get_by_label("Reason").fill(reason)
    row.get_by_role("button", name=button, exact=True).click()


def assert_back_to_book(
    scheduler: Any, driver: Any, order_id: str, appointment_id: str, slot: dict[str, Any]
) -> None:
    """What the scheduler sees after a cancellation or a no-show: the booking gone from the
    week, the order waiting for a booking again, its slot free; the service agrees."""
    assert scheduler.locator(f"#appointment-{appointment_id}").count() == 0
    assert scheduler.locator(f"#order-{order_id}").count() == 1
    assert driver.get("scheduling", f"/Slot/{slot['id']}")["status"] == "free"
    task = driver.get(
        "scheduling", "/Task", params={"focus": f"ServiceRequest/{order_id}", "code": SCHEDULE}
    )["entry"][0]["resource"]
    assert task["status"] == "requested"


def override(browser: Browser, driver: Any, platform: Any, order_id: str) -> None:
    """The clinician overrides (revokes) the order: a Provenance naming them as author, and
    order-revoked published."""
    clinician = sign_in(browser, "clinician", "/intake")
    review = clinician.locator(f"form[action='/intake/orders/{order_id}']")
    review.get_by_label("Clinician's reason").fill("two missed visits: reassess first")
    review.get_by_role("button", name="Override (revoke)").click()
    message = clinician.get_by_role("status").inner_text()
    assert f"ServiceRequest/{order_id}: overridden" in message, message
    checked(clinician, "intake-overridden")
    assert clinician.locator(f"form[action='/intake/orders/{order_id}']").count() == 0
    assert driver.get("assessment", f"/ServiceRequest/{order_id}")["status"] == "revoked"
    assert staged_events(platform, "assessment", order_id) == [ORDERED, REVOKED]
    [record] = provenances(driver, order_id)
    assert record["agent"][0]["type"]["coding"][0]["code"] == "author"
    assert record["activity"]["coding"][0]["code"] == "NULLIFY"
    assert record["reason"] == [{"text": "override: two missed visits: reassess first"}]
