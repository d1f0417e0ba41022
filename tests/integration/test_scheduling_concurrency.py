"""Two bookings of one slot: exactly one wins, enforced by the database. Twenty clients race for
one slot over real HTTP on real PostgreSQL, five rounds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from painflow_shared.testing.fixtures import wait_for

from .scheduling_helpers import FHIR_JSON, booking, new_slot, post, publish_completed

pytestmark = pytest.mark.integration

CLIENTS, ROUNDS = 20, 5
CANCEL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
            "code": "pat",
        }
    ]
}


def test_twenty_clients_one_slot_exactly_one_wins(platform, kafka):
    order = publish_completed(platform, kafka)
    base = platform.fhir("scheduling")
    wait_for(
        lambda: httpx.get(f"{base}/ServiceRequest/{order['id']}").status_code == 200, what="order"
    )
    schedule = post(
        platform,
        "Schedule",
        {
            "resourceType": "Schedule",
            "actor": [{"reference": "Location/suite"}],
            "serviceType": [
                {
                    "coding": [
                        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "RF"}
                    ]
                }
            ],
        },
    ).json()
    for day in range(ROUNDS):
        start = f"2026-11-{10 + day:02d}T08:00:00Z"
        slot_id = new_slot(platform, schedule["id"], start, start.replace("08:00", "08:30"))
        body = booking(order, slot_id)
        with ThreadPoolExecutor(CLIENTS) as pool:
            codes = list(pool.map(lambda b: post(platform, "Appointment", b), [body] * CLIENTS))
        statuses = sorted(r.status_code for r in codes)
        assert statuses == [201] + [409] * (CLIENTS - 1), [
            r.text for r in codes if r.status_code not in (201, 409)
        ]
        assert all(
            r.json()["issue"][0]["code"] == "conflict" for r in codes if r.status_code == 409
        )
        found = httpx.get(f"{base}/Appointment", params={"slot": f"Slot/{slot_id}"}).json()
        assert found["total"] == 1
        winner = next(r.json() for r in codes if r.status_code == 201)
        cancelled = httpx.put(
            f"{base}/Appointment/{winner['id']}",
            json={**winner, "status": "cancelled", "cancelationReason": CANCEL},
            headers=FHIR_JSON,
        )
        assert cancelled.status_code == 200, cancelled.text
