"""Signing in to the clinic and opening it from the EHR, in a real browser: the real sign-in
(authorization code + PKCE S256 at Keycloak's own login form), production without the dev
sign-in (offered nowhere, its URL refused), and the EHR's link by patient identifier (our
Patient, or a clear 404)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from .conftest import REGISTERED, Browser, checked, shoot

pytestmark = pytest.mark.integration


def test_the_real_sign_in_is_keycloaks_form_with_pkce(browser: Browser):
    page = browser.routed_page()
    authorize: list[str] = []
    page.on("request", lambda r: authorize.append(r.url) if "/openid-connect/auth" in r.url else 0)
    page.goto("/triage")
    checked(page, "sign-in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator("#kc-login").wait_for()  # Keycloak's own login form
    shoot(page, "sign-in-keycloak")
    page.locator("#username").fill("nurse")
    page.locator("#password").fill("nurse")
    page.locator("#kc-login").click()
    page.wait_for_url("**/triage")  # back where the sign-in began
    assert "Signed in as nurse (" in page.locator("header").inner_text()
    checked(page, "signed-in")

    [url] = authorize
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["clinic"]
    assert query["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"][0])  # SHA-256, base64url
    assert query["redirect_uri"] == [f"{REGISTERED}/auth/callback"]


def test_production_offers_no_dev_sign_in_and_refuses_its_url(
    browser: Browser, production_clinic: Any
):
    page = browser.page(base=production_clinic.url)
    page.goto("/login?next=/triage")
    assert page.get_by_role("button", name="Sign in", exact=True).is_visible()
    assert page.get_by_role("button", name=re.compile("Sign in as")).count() == 0
    assert page.get_by_text("Development sign-in").count() == 0
    checked(page, "sign-in-production")

    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post("/login/dev/nurse", form={"csrf": csrf, "next": "/triage"})
    assert refused.status == 403
    assert "refused outside PAINFLOW_ENV=dev" in refused.text()
    page.goto("/triage")
    assert urlsplit(page.url).path == "/login"  # still nobody signed in


def test_an_ehr_link_opens_the_patient_by_identifier(browser: Browser, driver: Any):
    driver.refer()
    patient_id = driver.result.patient_id
    identifier = driver.get("referral", f"/Patient/{patient_id}")["identifier"][0]
    driver.wait(
        "journey",
        "the patient's journey at the follow-up service",
        lambda: driver.get("followup", f"/journeys/{patient_id}", fhir=False, missing_ok=True),
    )
    link = "/patients?identifier=" + quote(f"{identifier['system']}|{identifier['value']}")
    nurse = browser.page()
    nurse.goto(link)
    nurse.get_by_role("button", name="Sign in as nurse").click()
    nurse.wait_for_url(f"**/patients/{patient_id}")
    assert nurse.get_by_role("heading", name="Patient journey").is_visible()
    checked(nurse, "patient-by-identifier")

    unknown = nurse.goto("/patients?identifier=" + quote("https://ehr.test/mrn|no-such-mrn"))
    assert unknown is not None and unknown.status == 404
    assert nurse.get_by_role("heading", name="Patient not found").is_visible()
    assert "No patient here has that identifier" in nurse.get_by_role("alert").inner_text()
    checked(nurse, "patient-not-found")
