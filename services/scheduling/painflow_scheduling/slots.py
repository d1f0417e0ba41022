"""Slot reservations: the database makes a slot bookable once.

A booking inserts one ``scheduling_slot_booking`` row per slot (primary key: the slot) inside a
savepoint of its transaction. Of two concurrent bookings of one slot, PostgreSQL makes the second
insert wait for the first transaction and then fail on the key: that booking is a 409, with the
slot named. Freeing a slot deletes its row; the Slot resource's status follows in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.tables import SlotBooking
from painflow_shared.fhir.errors import Conflict, Issue


def reserve(
    ctx: SchedulingContext, slot_ids: Sequence[str], appointment_id: str, expression: str
) -> None:
    """Take the slots for the Appointment, or 409 if a concurrent booking took one first."""
    try:
        with ctx.session.begin_nested():
            for slot_id in slot_ids:
                ctx.session.add(SlotBooking(slot_id=slot_id, appointment_id=appointment_id))
            ctx.session.flush()
    except IntegrityError:
        reason = "slot taken: a concurrent booking took one of these slots first"
        raise Conflict(reason, issues=[Issue(reason, "conflict", "error", (expression,))]) from None


def release(ctx: SchedulingContext, appointment_id: str) -> list[str]:
    """Free every slot the Appointment holds; returns their ids."""
    held = list(
        ctx.session.exec(
            select(SlotBooking.slot_id).where(SlotBooking.appointment_id == appointment_id)
        ).all()
    )
    ctx.session.execute(
        delete(SlotBooking).where(col(SlotBooking.appointment_id) == appointment_id)
    )
    return held


def set_slot_status(ctx: SchedulingContext, slot_id: str, status: str) -> dict[str, Any]:
    slot = ctx.store.read("Slot", slot_id)
    if slot.get("status") == status:
        return slot
    return ctx.store.update({**slot, "status": status})[0]
