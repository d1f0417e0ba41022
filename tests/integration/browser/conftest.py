"""Browser tests: the clinic web app on a free port in front of the integration tests'
``platform`` (the four services on real HTTP, Kafka and PostgreSQL), driven by Playwright
through Debian's Chromium (/usr/bin/chromium: the browser download step cannot work here).
``bash tests/integration/browser/setup.sh`` installs Chromium and axe-core; ``make test`` runs it.

Sign-in: the clinic's dev sign-in as each dev user, against the realm's Keycloak; and the real
one (authorization code + PKCE), for which the clinic names itself by the address the realm's
``clinic`` client registers (``REGISTERED``, :8005) and the test's browser context routes that
address to the clinic's free port, as a reverse proxy would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from painflow_shared.testing.fixtures import Platform
from painflow_shared.testing.identity import Identity
from painflow_shared.testing.journey import Bases, JourneyDriver
from painflow_shared.testing.servers import RunningServer, free_port, start_server

from ..api import api

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / ".cache" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("PAINFLOW_TEST_OUTPUT", REPO / ".run" / "test-output")) / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVICES = ("referral", "assessment", "scheduling", "followup")
REGISTERED = "http://127.0.0.1:8005"  # the clinic client's redirect URIs (deploy/keycloak)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def clinic(platform: Platform, identity: Identity) -> Iterator[RunningServer]:
    yield from _clinic(platform, identity, environment="dev")


@pytest.fixture(scope="session")
def production_clinic(platform: Platform, identity: Identity) -> Iterator[RunningServer]:
    """The same app under PAINFLOW_ENV=production (no dev sign-in)."""
    yield from _clinic(
        platform, identity, environment="production", session_secret="a-test-secret-" + "x" * 32
    )


def _clinic(platform: Platform, identity: Identity, **settings: Any) -> Iterator[RunningServer]:
    from painflow_clinic.app import create_app
    from painflow_clinic.settings import ClinicSettings

    port = free_port()
    conf = ClinicSettings(
        port=port,
        public_url=REGISTERED,
        auth_issuer=identity.issuer,
        **{f"{s}_url": platform.url(s) for s in SERVICES},
        **settings,
    )
    server = start_server(create_app(conf), port)
    yield server
    server.stop()


@dataclass
class Browser:
    """One Chromium for the session; ``page()`` opens a fresh context (its own cookies)."""

    chromium: Any
    base: str

    def page(self, width: int = 1280, height: int = 900, base: str | None = None) -> Any:
        # bypass_csp: the pages allow no script, and axe-core is injected only by the test
        context = self.chromium.new_context(
            viewport={"width": width, "height": height},
            bypass_csp=True,
            base_url=base or self.base,
        )
        return context.new_page()

    def routed_page(self) -> Any:
        """A page whose requests to ``REGISTERED`` reach this session's clinic: Keycloak
        redirects back there after the real sign-in."""
        page = self.page()
        page.context.route(
            f"{REGISTERED}/**",
            lambda route: route.continue_(url=route.request.url.replace(REGISTERED, self.base)),
        )
        return page


@pytest.fixture(scope="session")
def browser(clinic: RunningServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists() or not AXE.exists():
        pytest.fail(
            "Chromium or axe-core is missing: run `bash tests/integration/browser/setup.sh`"
        )
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield Browser(chromium, clinic.url)
        chromium.close()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page as it stands."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def shoot(page: Any, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def staged_events(platform: Platform, service: str, resource_id: str) -> list[str]:
    """Event types ``service`` wrote to its outbox (in the write's transaction) whose Bundle
    carries a resource with id ``resource_id``: what it published or is about to."""
    from sqlmodel import Session, col, select

    from painflow_shared.events.outbox import OutboxMessage

    with Session(platform.runtime(service).engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all()
    return [
        row.event_type
        for row in rows
        if any(e["resource"].get("id") == resource_id for e in json.loads(row.payload)["entry"])
    ]


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
def driver(platform: Platform) -> Iterator[JourneyDriver]:
    bases = Bases(**{s: platform.url(s) for s in Bases.__dataclass_fields__})
    journey = JourneyDriver(bases, timeout=60)
    journey.http = httpx.Client(timeout=30, auth=api.auth)
    yield journey
    journey.close()


def provenances(driver: Any, order_id: str) -> list[dict[str, Any]]:
    """The clinicians' Provenance records of an order at the assessment service."""
    found = driver.get("assessment", "/Provenance", params={"target": f"ServiceRequest/{order_id}"})
    return [e["resource"] for e in found.get("entry") or []]
