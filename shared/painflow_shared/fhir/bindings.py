"""Required code bindings that fhir.resources does not check (it accepts ``status: "bogus"``).

Each entry is (resourceType, element, allowed codes) for elements whose R4 binding strength is
*required*. The walker in ``parse.py`` applies them to every resource, including Bundle entries.
"""

from __future__ import annotations

REQUEST_STATUS = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)
REQUEST_PRIORITY = frozenset({"routine", "urgent", "asap", "stat"})
TASK_STATUS = frozenset(
    {
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
)
TASK_INTENT = frozenset(
    {
        "unknown",
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    }
)
REQUEST_INTENT = TASK_INTENT - {"unknown"} | {"directive"}

REQUIRED_BINDINGS: dict[str, dict[str, frozenset[str]]] = {
    "Patient": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "Practitioner": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "ServiceRequest": {
        "status": REQUEST_STATUS,
        "intent": REQUEST_INTENT,
        "priority": REQUEST_PRIORITY,
    },
    "Task": {"status": TASK_STATUS, "intent": TASK_INTENT, "priority": REQUEST_PRIORITY},
    "Bundle": {
        "type": frozenset(
            {
                "document",
                "message",
                "transaction",
                "transaction-response",
                "batch",
                "batch-response",
                "history",
                "searchset",
                "collection",
            }
        )
    },
    "MedicationStatement": {
        "status": frozenset(
            {
                "active",
                "completed",
                "entered-in-error",
                "intended",
                "stopped",
                "on-hold",
                "unknown",
                "not-taken",
            }
        )
    },
    "AllergyIntolerance": {
        "type": frozenset({"allergy", "intolerance"}),
        "criticality": frozenset({"low", "high", "unable-to-assess"}),
    },
    "Coverage": {"status": frozenset({"active", "cancelled", "draft", "entered-in-error"})},
    "DocumentReference": {
        "status": frozenset({"current", "superseded", "entered-in-error"}),
        "docStatus": frozenset({"preliminary", "final", "amended", "entered-in-error"}),
    },
    "EpisodeOfCare": {
        "status": frozenset(
            {"planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"}
        )
    },
    "Observation": {
        "status": frozenset(
            {
                "registered",
                "preliminary",
                "final",
                "amended",
                "corrected",
                "cancelled",
                "entered-in-error",
                "unknown",
            }
        )
    },
    "Appointment": {
        "status": frozenset(
            {
                "proposed",
                "pending",
                "booked",
                "arrived",
                "fulfilled",
                "cancelled",
                "noshow",
                "entered-in-error",
                "checked-in",
                "waitlist",
            }
        )
    },
    "Encounter": {
        "status": frozenset(
            {
                "planned",
                "arrived",
                "triaged",
                "in-progress",
                "onleave",
                "finished",
                "cancelled",
                "entered-in-error",
                "unknown",
            }
        )
    },
}

BUNDLE_REQUEST_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"})
