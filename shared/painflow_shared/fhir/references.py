"""FHIR references built and read in one place, never by ad-hoc string concatenation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest

_RELATIVE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$")
_ABSOLUTE = re.compile(
    r"^(?P<base>https?://.+)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$"
)


def reference_string(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}/{resource_id}"


def reference_to(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": reference_string(resource["resourceType"], resource["id"])}


def parse_relative(reference: str) -> tuple[str, str]:
    """``"Patient/123"`` -> ``("Patient", "123")``; anything else is a 400."""
    match = _RELATIVE.match(reference or "")
    if not match:
        raise InvalidRequest("a reference must be relative: Type/id")
    return match["type"], match["id"]


def split_absolute(reference: str) -> tuple[str, str, str] | None:
    """``"https://ehr/fhir/Patient/1"`` -> ``("https://ehr/fhir", "Patient", "1")``."""
    match = _ABSOLUTE.match(reference or "")
    return (match["base"], match["type"], match["id"]) if match else None


def is_relative(reference: str) -> bool:
    return bool(_RELATIVE.match(reference or ""))


def reference_of(value: Any) -> str | None:
    """The reference string of a Reference element, if it has one."""
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def local_reference(reference: str, bases: Iterable[str]) -> str:
    """``{base}/Type/id`` under one of ``bases`` (ours, or the referral service's, which names
    every patient) -> ``Type/id``, so an absolute and a relative reference to the same resource
    are equal; anything else comes back unchanged."""
    parts = split_absolute(reference)
    if parts is None:
        return reference
    base, resource_type, resource_id = parts
    known = {b.rstrip("/") for b in bases if b}
    return reference_string(resource_type, resource_id) if base.rstrip("/") in known else reference
