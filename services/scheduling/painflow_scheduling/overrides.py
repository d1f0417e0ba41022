"""The allergy override a booking may carry, and how it is recorded.

Where it sits in the request: an extension on the Appointment,
``https://painflow.dev/fhir/StructureDefinition/allergy-override``, with sub-extensions ``kind``
(valueCode ``premedication`` or ``alternative-agent``), ``text`` (valueString: the documented
premedication or alternative agent) and optionally ``agent`` (valueCode: the one agent it covers,
e.g. ``iodinated-contrast``; absent = every conflicting agent). ``$book`` takes the same as a
parameter ``allergy-override`` with parts of those names. A covered conflict is recorded in
``Appointment.comment`` and as a Provenance whose target is the Appointment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.allergies import (
    AllergyConflict,
    AllergyOverride,
    allergy_conflicts,
    covered_conflicts,
    procedure_agents,
)
from painflow_scheduling.domain.booking import BookingRequest
from painflow_shared.codes import PAINFLOW_FHIR
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.references import reference_string

OVERRIDE_URL = f"{PAINFLOW_FHIR}/StructureDefinition/allergy-override"
_VALUE = {"kind": "valueCode", "text": "valueString", "agent": "valueCode"}


def read_overrides(appointment: dict[str, Any]) -> list[AllergyOverride]:
    found = []
    for extension in appointment.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == OVERRIDE_URL:
            parts = {
                e.get("url"): e.get(_VALUE.get(str(e.get("url")), "valueString"))
                for e in extension.get("extension") or []
                if isinstance(e, dict)
            }
            found.append(
                AllergyOverride(
                    kind=str(parts.get("kind") or ""),
                    text=str(parts.get("text") or ""),
                    agent=parts.get("agent") or None,
                )
            )
    return found


def override_extension(parts: dict[str, Any]) -> dict[str, Any]:
    """The Appointment extension from ``$book``'s ``allergy-override`` parts."""
    return {
        "url": OVERRIDE_URL,
        "extension": [
            {"url": name, _VALUE[name]: parts[name]} for name in _VALUE if parts.get(name)
        ],
    }


def covered(
    ctx: SchedulingContext, request: BookingRequest, overrides: Sequence[AllergyOverride]
) -> tuple[tuple[AllergyConflict, AllergyOverride], ...]:
    agents = procedure_agents(request.order, ctx.policies.agents)
    conflicts = allergy_conflicts(agents, request.allergies)
    return covered_conflicts(conflicts, overrides, ctx.policies.agents)


def override_comment(pairs: Sequence[tuple[AllergyConflict, AllergyOverride]]) -> str | None:
    if not pairs:
        return None
    return " ".join(
        f"Allergy override: {c.allergy or 'an AllergyIntolerance'} conflicts with the "
        f"procedure's {c.agent_display}; booked with {o.kind}: {o.text}."
        for c, o in pairs
    )


def record_provenance(
    ctx: SchedulingContext,
    appointment: dict[str, Any],
    order: dict[str, Any],
    pairs: Sequence[tuple[AllergyConflict, AllergyOverride]],
) -> None:
    """One Provenance per override used: who ordered, what conflicted, the plan."""
    who = order.get("requester") or {"display": "scheduling user"}
    for conflict, override in pairs:
        provenance: dict[str, Any] = {
            "resourceType": "Provenance",
            "target": [{"reference": reference_string("Appointment", appointment["id"])}],
            "recorded": fhir_instant(ctx.now()),
            "activity": {"text": "allergy override at booking"},
            "reason": [{"text": f"{override.kind}: {override.text}"}],
            "agent": [{"who": who}],
        }
        if conflict.allergy:
            provenance["entity"] = [{"role": "source", "what": {"reference": conflict.allergy}}]
        ctx.store.create(provenance)
