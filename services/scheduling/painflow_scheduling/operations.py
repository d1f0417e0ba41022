"""The OperationDefinitions of scheduling's custom operations, served at
``/fhir/OperationDefinition`` and named by the CapabilityStatement."""

from __future__ import annotations

from typing import Any

Param = tuple[str, str, int, str, str]  # name, use, min, max, type

OPERATIONS: dict[str, tuple[str, str, bool, bool, str, list[Param]]] = {
    # id: (resource, code, instance, affectsState, description, parameters)
    "ServiceRequest-booking-constraints": (
        "ServiceRequest",
        "booking-constraints",
        True,
        False,
        "What makes a slot safe for this order: the earliest safe start, one hold per drug, "
        "allergy conflicts, repeat limits and prior authorizations.",
        [("return", "out", 1, "1", "Parameters")],
    ),
    "Schedule-generate-slots": (
        "Schedule",
        "generate-slots",
        True,
        True,
        "Free Slots of this Schedule from a weekly template in the site's zone (days, hours, "
        "slot length, from..to inclusive); a slot that already exists is not made twice.",
        [
            ("day", "in", 1, "7", "code"),
            ("start-time", "in", 1, "1", "time"),
            ("end-time", "in", 1, "1", "time"),
            ("slot-minutes", "in", 1, "1", "positiveInt"),
            ("from", "in", 1, "1", "date"),
            ("to", "in", 1, "1", "date"),
            ("return", "out", 1, "1", "Bundle"),
        ],
    ),
    "Slot-book": (
        "Slot",
        "book",
        True,
        True,
        "Book this Slot (and any further contiguous slots) for an order: the same rules and "
        "result as POST /fhir/Appointment.",
        [
            ("order", "in", 1, "1", "Reference"),
            ("slot", "in", 0, "*", "Reference"),
            ("identifier", "in", 0, "1", "Identifier"),
            ("allergy-override", "in", 0, "*", ""),
            ("return", "out", 1, "1", "Appointment"),
        ],
    ),
    "Appointment-reschedule": (
        "Appointment",
        "reschedule",
        True,
        True,
        "Move this booked Appointment to other slot(s) in one transaction, every rule "
        "checked again.",
        [("slot", "in", 1, "*", "Reference"), ("return", "out", 1, "1", "Appointment")],
    ),
}


def operation_definition(definition_id: str, base_url: str) -> dict[str, Any]:
    resource, code, instance, affects, description, params = OPERATIONS[definition_id]
    return {
        "resourceType": "OperationDefinition",
        "id": definition_id,
        "url": definition_url(definition_id, base_url),
        "name": "".join(part.capitalize() for part in definition_id.split("-")),
        "status": "active",
        "kind": "operation",
        "affectsState": affects,
        "description": description,
        "code": code,
        "resource": [resource],
        "system": False,
        "type": False,
        "instance": instance,
        "parameter": [_parameter(*p) for p in params],
    }


def _parameter(name: str, use: str, low: int, high: str, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "use": use, "min": low, "max": high}
    if kind:
        body["type"] = kind
    else:  # the allergy override's parts
        body["part"] = [
            {"name": "kind", "use": "in", "min": 1, "max": "1", "type": "code"},
            {"name": "text", "use": "in", "min": 1, "max": "1", "type": "string"},
            {"name": "agent", "use": "in", "min": 0, "max": "1", "type": "code"},
        ]
    return body


def definition_url(definition_id: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/OperationDefinition/{definition_id}"


def definitions_for(resource: str, base_url: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (code, definition_url(i, base_url))
        for i, (r, code, *_) in OPERATIONS.items()
        if r == resource
    )
