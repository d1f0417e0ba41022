"""Slot reservations: the database makes a slot bookable once.

A booking inserts one ``scheduling_slot_booking`` row per slot (primary key: the slot) in its
transaction. Of two concurrent bookings of one slot, PostgreSQL makes the second
insert wait for the first transaction and then fail on the key: that booking is a 409, with the
slot named. Freeing a slot deletes its row; the Slot resource's status follows in the same
transaction.

An order is booked once at a time the same way: ``scheduling_order_booking`` (primary key: the
order) gets its row in the booking's transaction, so of two concurrent bookings of one order into
different slots exactly one commits; the row goes when that Appointment stops being booked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.tables import OrderBooking, SlotBooking
from painflow_shared.fhir.errors import BusinessRuleViolation, Conflict, Issue


def reserve(
    ctx: SchedulingContext, slot_ids: Sequence[str], appointment_id: str, expression: str
) -> None:
    """Take the slots for the Appointment, or 409 if a concurrent booking took one first."""
    reason = "slot taken: a concurrent booking took one of these slots first"
    rows = [SlotBooking(slot_id=s, appointment_id=appointment_id) for s in slot_ids]
    _insert_or_raise(
        ctx, rows, Conflict(reason, issues=[Issue(reason, "conflict", "error", (expression,))])
    )


def _insert_or_raise(ctx: SchedulingContext, rows: Sequence[SQLModel], error: Exception) -> None:
    """Insert the rows, or raise ``error`` when a key is taken. No savepoint: the refusal rolls
    the whole unit of work back (and on SQLite a savepoint opened outside a transaction would
    commit on release, keeping the rows of a refused booking)."""
    try:
        ctx.session.add_all(rows)
        ctx.session.flush()
    except IntegrityError:
        raise error from None


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


def claim_order(ctx: SchedulingContext, order_id: str, appointment_id: str) -> None:
    """Make the Appointment the order's one active booking, or 422 naming the one that is (a
    concurrent booking that commits first is caught by the key, not by this read)."""
    holder = ctx.session.get(OrderBooking, order_id)
    if holder is not None:
        raise _already_booked(f"Appointment/{holder.appointment_id}")
    row = OrderBooking(order_id=order_id, appointment_id=appointment_id)
    _insert_or_raise(ctx, [row], _already_booked("a concurrent booking committed first"))


def _already_booked(which: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"the order is already booked ({which}): reschedule or cancel that Appointment",
        expression="Appointment.basedOn",
    )


def release_order(ctx: SchedulingContext, appointment_id: str) -> None:
    """The Appointment is no longer booked: its order may be booked again."""
    ctx.session.execute(
        delete(OrderBooking).where(col(OrderBooking.appointment_id) == appointment_id)
    )
