"""Scheduling's own tables beside the FHIR store: slot reservations and the referrals it follows.

``scheduling_slot_booking`` is what makes a slot bookable once: its primary key is the slot, and
the booking writes its rows in the same transaction as the Appointment, so of two concurrent
bookings of one slot the database lets exactly one commit (the other gets a unique violation).
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class SlotBooking(SQLModel, table=True):
    __tablename__ = "scheduling_slot_booking"

    slot_id: str = Field(primary_key=True, max_length=64)
    appointment_id: str = Field(index=True, max_length=64)


class FollowedReferral(SQLModel, table=True):
    """A referral of the patient, open until it is redirected, rejected or cancelled."""

    __tablename__ = "scheduling_referral"

    referral_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(index=True, max_length=64)
    open: bool = True


class OrderBooking(SQLModel, table=True):
    """An order's one active (booked) Appointment: its primary key is the order, written in the
    booking's transaction and deleted when that Appointment stops being booked, so two
    concurrent bookings of one order into different slots cannot both commit."""

    __tablename__ = "scheduling_order_booking"

    order_id: str = Field(primary_key=True, max_length=64)
    appointment_id: str = Field(index=True, max_length=64)
