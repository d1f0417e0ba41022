"""Two bookings of one slot, or of one order into two slots: exactly one wins, enforced by the
database. Twenty clients race for one slot, and two clients book one order into two slots, over
real HTTP on real PostgreSQL, several rounds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from painflow_shared.testing.fixtures import wait_for

from .api import api
from .scheduling_helpers import (
    FHIR_JSON,
    booking,
    new_slot,
    post,
    publish_completed,
    room_with_slot,
)

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
        lambda: api.get(f"{base}/ServiceRequest/{order['id']}").status_code == 200, what="order"
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
        found = api.get(f"{base}/Appointment", params={"slot": f"Slot/{slot_id}"}).json()
        assert found["total"] == 1
        winner = next(r.json() for r in codes if r.status_code == 201)
        cancelled = api.put(
            f"{base}/Appointment/{winner['id']}",
            json={**winner, "status": "cancelled", "cancelationReason": CANCEL},
            headers=FHIR_JSON,
        )
        assert cancelled.status_code == 200, cancelled.text


def test_one_order_booked_into_different_slots_at_once_exactly_one_wins(platform, kafka):
    """The order's one active booking is a key in the database, not a read-then-write check:
    two clients booking the same order into two different free slots get one 201 and one 422,
    and only the winner's slot is taken. Ten rounds."""
    order = publish_completed(platform, kafka)
    base = platform.fhir("scheduling")
    wait_for(
        lambda: api.get(f"{base}/ServiceRequest/{order['id']}").status_code == 200, what="order"
    )
    for round_ in range(10):
        # 20 days apart: the repeat rules never refuse the loser before the key does
        first = room_with_slot(platform, *_half_hour(60 + round_))
        second = room_with_slot(platform, *_half_hour(80 + round_))
        bodies = [booking(order, first), booking(order, second)]
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(lambda b: post(platform, "Appointment", b), bodies))
        assert sorted(r.status_code for r in responses) == [201, 422], [r.text for r in responses]
        winner = next(r.json() for r in responses if r.status_code == 201)
        loser = next(r.json() for r in responses if r.status_code == 422)
        assert loser["issue"][0]["code"] == "business-rule"
        # named when the winner had committed before the loser looked; else the key caught it
        assert loser["issue"][0]["diagnostics"] in {
            f"the order is already booked ({which}): reschedule or cancel that Appointment"
            for which in (f"Appointment/{winner['id']}", "a concurrent booking committed first")
        }
        booked = api.get(
            f"{base}/Appointment",
            params={"based-on": f"ServiceRequest/{order['id']}", "status": "booked"},
        ).json()
        assert [e["resource"]["id"] for e in booked["entry"]] == [winner["id"]]
        statuses = {s: api.get(f"{base}/Slot/{s}").json()["status"] for s in (first, second)}
        assert sorted(statuses.values()) == ["busy", "free"]
        cancelled = api.put(
            f"{base}/Appointment/{winner['id']}",
            json={**winner, "status": "cancelled", "cancelationReason": CANCEL},
            headers=FHIR_JSON,
        )
        assert cancelled.status_code == 200, cancelled.text


def _half_hour(days: int) -> tuple[str, str]:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day}T08:00:00Z", f"{day}T08:30:00Z"
