"""/bookings: the scheduler's week by room and modality at the scheduling service; unbooked
procedure orders with their ``$booking-constraints`` (earliest safe start, holds, allergy,
repeat-limit and authorization problems) shown before a slot is picked; book, cancel,
reschedule and no-show. A refusal is shown as the service says it (element and rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_clinic.fhir import Fhir, ServiceError, gather
from painflow_clinic.web import FhirDep, FormDep, back, flash, flash_error, render

router = APIRouter()
Resource = dict[str, Any]
SCHEDULE_TASK = "https://painflow.dev/fhir/CodeSystem/task-type|schedule-procedure"
CHANGES = {"cancel": "cancelled", "noshow": "marked as a no-show", "reschedule": "rescheduled"}


def week_of(value: str | None) -> date:
    try:
        day = date.fromisoformat(value) if value else datetime.now(UTC).date()
    except ValueError:
        day = datetime.now(UTC).date()
    return day - timedelta(days=day.weekday())


@router.get("/bookings")
async def bookings(request: Request, fhir: FhirDep, week: str | None = None) -> Response:
    monday = week_of(week)
    span = {"ge": monday, "lt": monday + timedelta(days=7)}
    schedules, slots, appointments, tasks = await gather(
        fhir.search("scheduling", "Schedule"),
        fhir.search("scheduling", "Slot", {"start": [f"ge{span['ge']}", f"lt{span['lt']}"]}),
        fhir.search(
            "scheduling",
            "Appointment",
            {"date": [f"ge{span['ge']}", f"lt{span['lt']}"], "status": "booked"},
        ),
        fhir.search(
            "scheduling", "Task", {"code": SCHEDULE_TASK, "status": "requested,in-progress"}
        ),
    )
    rooms = _rooms(schedules)
    orders = await _orders(fhir, tasks)
    free = sorted((s for s in slots if s.get("status") == "free"), key=lambda s: s["start"])
    return render(
        request,
        "bookings.html",
        "Bookings",
        monday=monday,
        days=[monday + timedelta(days=i) for i in range(7)],
        rooms=rooms,
        grid=_grid(rooms, slots, appointments),
        orders=orders,
        free=[(s, rooms.get(s["schedule"]["reference"], {})) for s in free],
        appointments=[
            (a, patient_of(a)) for a in sorted(appointments, key=lambda a: a.get("start", ""))
        ],
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
    )


def patient_of(appointment: Resource) -> str | None:
    """The Patient id among the Appointment's participants."""
    for participant in appointment.get("participant") or []:
        reference = str((participant.get("actor") or {}).get("reference", ""))
        if "Patient/" in reference:
            return reference.rsplit("/", 1)[-1]
    return None


def _rooms(schedules: list[Resource]) -> dict[str, Resource]:
    rooms = {}
    for s in schedules:
        actor = (s.get("actor") or [{}])[0]
        codings = [c for t in s.get("serviceType") or [] for c in t.get("coding") or []]
        rooms[f"Schedule/{s['id']}"] = {
            "id": s["id"],
            "name": actor.get("display") or str(actor.get("reference", "")).rsplit("/", 1)[-1],
            "modality": ", ".join(str(c.get("display") or c.get("code")) for c in codings)
            or "no imaging",
        }
    return rooms


def _grid(
    rooms: dict[str, Resource], slots: list[Resource], appointments: list[Resource]
) -> dict[str, dict[str, list[Resource]]]:
    """room -> day (ISO date) -> slots that day, each with the Appointment holding it."""
    holder = {ref["reference"]: a for a in appointments for ref in a.get("slot") or []}
    grid: dict[str, dict[str, list[Resource]]] = {room: {} for room in rooms}
    for slot in sorted(slots, key=lambda s: s["start"]):
        room = slot["schedule"]["reference"]
        cell = grid.setdefault(room, {}).setdefault(slot["start"][:10], [])
        cell.append({"slot": slot, "appointment": holder.get(f"Slot/{slot['id']}")})
    return grid


async def _orders(fhir: Fhir, tasks: list[Resource]) -> list[Resource]:
    """Each open schedule-procedure Task with its order and the order's constraints."""
    found = []
    for task in tasks:
        order_ref = str((task.get("focus") or {}).get("reference", ""))
        order_id = order_ref.rsplit("/", 1)[-1]
        try:
            order, constraints = await gather(
                fhir.read("scheduling", f"ServiceRequest/{order_id}"),
                fhir.request(
                    "scheduling", "GET", f"/ServiceRequest/{order_id}/$booking-constraints"
                ),
            )
        except ServiceError:
            continue
        if order.get("status") != "active":
            continue
        found.append({"task": task, "order": order, "constraints": constraint_rows(constraints)})
    return found


def constraint_rows(parameters: Resource) -> Resource:
    """$booking-constraints as people read it: the earliest start and each problem's parts."""
    rows: Resource = {"earliest": None, "problems": []}
    for p in parameters.get("parameter") or []:
        if p.get("name") == "earliest-start":
            rows["earliest"] = p.get("valueDateTime")
            continue
        parts = [(q["name"], _value(q)) for q in p.get("part") or []]
        rows["problems"].append({"kind": p.get("name"), "parts": parts})
    return rows


def _value(part: Resource) -> str:
    for key, value in part.items():
        if key.startswith("value"):
            if isinstance(value, dict):
                return str(
                    value.get("display")
                    or value.get("reference")
                    or value.get("text")
                    or value.get("code")
                    or value.get("value")
                    or value
                )
            return str(value)
    return ""


@router.post("/bookings/book")
async def book(request: Request, fhir: FhirDep, form: FormDep) -> Response:
    order_id, slot_id = form.get("order", ""), form.get("slot", "")
    week = form.get("week", "")
    if not slot_id:
        flash(request, "error", "Pick a slot first.")
        return back(f"/bookings?week={week}")
    order = await fhir.read("scheduling", f"ServiceRequest/{order_id}")
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [{"actor": order["subject"], "status": "accepted"}],
    }
    try:
        booked = await fhir.post("scheduling", "/Appointment", appointment)
    except ServiceError as error:
        flash_error(
            request, f"Booking ServiceRequest/{order_id} into Slot/{slot_id} was refused", error
        )
        return back(f"/bookings?week={week}#order-{order_id}")
    flash(request, "ok", f"Booked Appointment/{booked['id']} at {booked.get('start', '')}.")
    return back(f"/bookings?week={week}")


@router.post("/bookings/{appointment_id}/change")
async def change(request: Request, appointment_id: str, fhir: FhirDep, form: FormDep) -> Response:
    action, week = form.get("action", ""), form.get("week", "")
    if action not in CHANGES:
        flash(request, "error", "Unknown change.")
        return back(f"/bookings?week={week}")
    try:
        await _change(fhir, appointment_id, action, form)
    except ServiceError as error:
        flash_error(request, f"Changing Appointment/{appointment_id} ({action})", error)
        return back(f"/bookings?week={week}")
    except ValueError as problem:
        flash(request, "error", str(problem))
        return back(f"/bookings?week={week}")
    flash(request, "ok", f"Appointment/{appointment_id}: {CHANGES[action]}.")
    return back(f"/bookings?week={week}")


async def _change(fhir: Fhir, appointment_id: str, action: str, form: dict[str, str]) -> None:
    path = f"/Appointment/{appointment_id}"
    if action == "cancel":
        reason = form.get("reason", "").strip()
        if not reason:
            raise ValueError("A cancellation needs a reason.")
        await fhir.patch(
            "scheduling",
            path,
            [
                {"op": "replace", "path": "/status", "value": "cancelled"},
                {"op": "add", "path": "/cancelationReason", "value": {"text": reason}},
            ],
        )
    elif action == "noshow":
        await fhir.patch(
            "scheduling", path, [{"op": "replace", "path": "/status", "value": "noshow"}]
        )
    elif action == "reschedule":
        if not form.get("slot"):
            raise ValueError("Pick the new slot first.")
        parameters = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "slot", "valueReference": {"reference": f"Slot/{form['slot']}"}}
            ],
        }
        await fhir.post("scheduling", f"{path}/$reschedule", parameters)
    else:
        raise ValueError("Unknown change.")
