"""``_summary`` and ``_elements``: a resource cut down to what the client asked for.

A cut-down resource carries the SUBSETTED tag (FHIR search.html#summary), so nobody takes it
for the whole record or sends it back as an update.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from painflow_shared.fhir.parse import resource_class

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
ALWAYS_KEPT = frozenset({"resourceType", "id", "meta"})


def subset(
    resource: dict[str, Any], *, summary: str | None, elements: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The resource as ``_summary`` (true, text, data) and ``_elements`` shape it."""
    keep = _kept(resource, summary, elements)
    if keep is None:
        return resource
    cut = {
        key: value
        for key, value in resource.items()
        if key in ALWAYS_KEPT or key.removeprefix("_") in keep
    }
    meta = dict(cut.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    cut["meta"] = meta
    return cut


def _kept(
    resource: dict[str, Any], summary: str | None, elements: tuple[str, ...]
) -> set[str] | None:
    """The element names to keep (``_birthDate`` goes with ``birthDate``); None for all."""
    resource_type = str(resource.get("resourceType", ""))
    names = {key.removeprefix("_") for key in resource}
    keep = set(names)
    if summary == "true":
        keep &= summary_elements(resource_type)
    elif summary == "text":
        keep &= {"text"} | mandatory_elements(resource_type)
    elif summary == "data":
        keep.discard("text")
    if elements:
        keep &= set(elements)
    keep |= names & ALWAYS_KEPT
    return None if keep == names else keep


@lru_cache(maxsize=64)
def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements the R4 definition marks isSummary, and the mandatory ones."""
    return _elements_where(resource_type, "summary_element_property") | mandatory_elements(
        resource_type
    )


@lru_cache(maxsize=64)
def mandatory_elements(resource_type: str) -> frozenset[str]:
    cls = resource_class(resource_type)
    if cls is None:
        return frozenset()
    required = {
        field.alias or name for name, field in cls.model_fields.items() if field.is_required()
    }
    return frozenset(required) | _elements_where(resource_type, "element_required")


def _elements_where(resource_type: str, flag: str) -> frozenset[str]:
    cls = resource_class(resource_type)
    if cls is None:
        return frozenset()
    return frozenset(
        field.alias or name
        for name, field in cls.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(flag)
    )
