"""Browser tests: the clinic web app on a free port in front of the integration tests'
``platform`` (the four services on real HTTP, Kafka and PostgreSQL), driven by Playwright
through Debian's Chromium (/usr/bin/chromium: the browser download step cannot work here).
``bash tests/integration/browser/setup.sh`` installs Chromium and axe-core; ``make test`` runs it.

Sign-in: the clinic's dev sign-in as each dev user, against the realm's Keycloak.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from painflow_shared.testing.fixtures import Platform
from painflow_shared.testing.identity import Identity
from painflow_shared.testing.servers import RunningServer, free_port, start_server

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / ".cache" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("PAINFLOW_TEST_OUTPUT", REPO / ".run" / "test-output")) / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVICES = ("referral", "assessment", "scheduling", "followup")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def clinic(platform: Platform, identity: Identity) -> Iterator[RunningServer]:
    from painflow_clinic.app import create_app
    from painflow_clinic.settings import ClinicSettings

    port = free_port()
    settings = ClinicSettings(
        environment="dev",
        port=port,
        auth_issuer=identity.issuer,
        **{f"{s}_url": platform.url(s) for s in SERVICES},
    )
    server = start_server(create_app(settings), port)
    yield server
    server.stop()


@dataclass
class Browser:
    """One Chromium for the session; ``page()`` opens a fresh context (its own cookies)."""

    chromium: Any
    base: str

    def page(self, width: int = 1280, height: int = 900) -> Any:
        # bypass_csp: the pages allow no script, and axe-core is injected only by the test
        context = self.chromium.new_context(
            viewport={"width": width, "height": height}, bypass_csp=True, base_url=self.base
        )
        return context.new_page()


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
