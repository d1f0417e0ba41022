"""The clinic with the keyboard alone: a coordinator signs in and accepts a referral using only
Tab and Enter, and every control on the way shows where the focus is."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Browser

pytestmark = pytest.mark.integration
MAX_TABS = 150  # a page whose control is further than this is not usable with a keyboard


def _tab_to(page: Any, target: Any) -> None:
    """Press Tab until ``target`` has the focus; each focused control must show a focus ring."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        ring = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return s.outlineStyle !== 'none' && s.outlineWidth !== '0px'; }"
        )
        assert ring, page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"not reached with {MAX_TABS} presses of Tab")


def test_a_coordinator_signs_in_and_accepts_a_referral_by_keyboard(browser: Browser, driver: Any):
    driver.refer()
    task = driver.wait("triage", "the triage Task", driver.triage_task)
    page = browser.page()
    page.goto("/triage")  # not signed in: the sign-in page, then back here
    _tab_to(page, page.get_by_role("button", name="Sign in as coordinator"))
    with page.expect_navigation(url="**/triage"):
        page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")

    accept = page.locator(f"#task-{task['id']}").get_by_role("button", name="Accept")
    _tab_to(page, accept)
    page.keyboard.press("Enter")
    assert "Referral accepted" in page.get_by_role("status").inner_text()
    # accepted, or already moved on: intake starting sets the Task in progress
    assert driver.triage_task()["status"] in ("accepted", "in-progress")
