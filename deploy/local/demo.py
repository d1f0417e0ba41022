"""`make demo`: walk one sample patient through the running services and show what each did.

Sends a referral transaction Bundle (Patient, the injury Condition, ServiceRequest) with a W3C
traceparent of its own, so the trace id printed at the end finds every span of this patient step.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from painflow_shared.testing.factories import referral_bundle, response_location

REPO = Path(__file__).resolve().parents[2]
BASE = {"referral": 8001, "assessment": 8002, "scheduling": 8003, "followup": 8004}


def url(service: str, path: str) -> str:
    return f"http://127.0.0.1:{BASE[service]}{path}"


def wait_json(address: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(address, timeout=5)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.3)
    raise SystemExit(f"nothing at {address} after {timeout}s")


def main() -> int:
    trace_id = secrets.token_hex(16)
    headers = {
        "content-type": "application/fhir+json",
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    bundle = referral_bundle(onset=date.today() - timedelta(weeks=6))  # a recent injury: fast track
    response = httpx.post(url("referral", "/fhir"), json=bundle, headers=headers, timeout=30)
    if response.status_code != 200:
        print(response.text, file=sys.stderr)
        return 1
    patient = response_location(response.json(), "Patient").split("/")[1]
    request = response_location(response.json(), "ServiceRequest").split("/")[1]
    task = wait_json(url("referral", f"/fhir/Task?focus=ServiceRequest/{request}"))["entry"][0][
        "resource"
    ]
    print(
        f"referral    stored ServiceRequest/{request} for Patient/{patient}; "
        f"triage Task/{task['id']} is "
        f"'{task['status']}' ({task['businessStatus']['text']}), priority {task['priority']}"
    )
    worklist = wait_json(url("assessment", f"/worklist/{request}"))
    print(f"assessment  worklist status '{worklist['status']}'")
    profile = wait_json(url("scheduling", f"/patients/{patient}/safety-profile"))
    print(
        f"scheduling  safety profile with {len(profile['medications'])} medications, "
        f"open referrals {profile['open_referrals']}"
    )
    journey = wait_json(url("followup", f"/journey/{patient}"))
    print("followup    journey:")
    for step in journey["steps"]:
        print(f"              {step['at'][:19]}  {step['kind']:<8} {step['event']}")
    accept_and_follow(request, task)
    print(
        f"\ntrace id    {trace_id}  (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; "
        "else the console exporter in .run/logs/)"
    )
    print_trace(trace_id)
    print(json.dumps({"patient": patient, "service_request": request, "trace_id": trace_id}))
    return 0


def accept_and_follow(request: str, task: dict[str, Any]) -> None:
    """The coordinator accepts the referral; assessment sees it ready for intake."""
    patch = [{"op": "replace", "path": "/status", "value": "accepted"}]
    response = httpx.patch(
        url("referral", f"/fhir/Task/{task['id']}"),
        json=patch,
        headers={"content-type": "application/json-patch+json"},
    )
    response.raise_for_status()
    print(f"coordinator accepted Task/{task['id']} (PATCH, JSON Patch)")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        item = httpx.get(url("assessment", f"/worklist/{request}")).json()
        if item.get("status") == "ready-for-intake":
            print("assessment  worklist status 'ready-for-intake'")
            return
        time.sleep(0.3)
    raise SystemExit("assessment never saw the acceptance")


def print_trace(trace_id: str) -> None:
    """Count this trace's spans in each service's console-exported spans (when not on OTLP)."""
    time.sleep(1.5)  # the console exporter writes every 0.5 s
    logs = REPO / ".run" / "logs"
    for service in BASE:
        path = logs / f"{service}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        names = [
            json.loads(line)["name"]
            for line in text.splitlines()
            if line.startswith("{") and f'"0x{trace_id}"' in line and '"name"' in line
        ]
        steps = sorted({n for n in names if not n.split(" ")[0].isupper() and n != "connect"})
        print(f"  {service:<11} {len(names):>3} spans, among them: {'; '.join(steps[:4])}")


if __name__ == "__main__":
    sys.exit(main())
