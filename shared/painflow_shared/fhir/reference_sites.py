"""Every Reference in a resource, with the element it sits in and the types that element allows.

The allowed target types come from the fhir.resources R4B models themselves: each field of
Reference type declares them in ``json_schema_extra["enum_reference_types"]`` (generated from
the FHIR StructureDefinitions), so nothing here is a hand-written table that could drift.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir.resources.R4B.reference import Reference
from fhir_core.types import FhirBase
from pydantic import BaseModel

from painflow_shared.fhir.parse import resource_class

ANY_RESOURCE = "Resource"  # what the models list for Reference(Any)


@dataclass(frozen=True)
class ReferenceSite:
    path: str  # where it is, as reported: "Bundle.entry[2].resource.reasonReference[0]"
    element: str  # the element's definition: "ServiceRequest.reasonReference"
    reference: str
    allowed: tuple[str, ...]  # target types the element allows; () for any resource


@dataclass(frozen=True)
class _Field:
    model: type[BaseModel]
    allowed: tuple[str, ...]


def reference_sites(resource: dict[str, Any], path: str) -> list[ReferenceSite]:
    """The references (``{"reference": "..."}``) anywhere in a resource, contained ones too."""
    model = resource_class(str(resource.get("resourceType")))
    sites: list[ReferenceSite] = []
    if model is not None:
        _walk(resource, model, path, str(resource["resourceType"]), (), sites)
    return sites


def _walk(
    node: Any,
    model: type[BaseModel],
    path: str,
    element: str,
    allowed: tuple[str, ...],
    sites: list[ReferenceSite],
) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, model, f"{path}[{index}]", element, allowed, sites)
        return
    if not isinstance(node, dict):
        return
    if model is Reference:
        if isinstance(node.get("reference"), str):
            sites.append(ReferenceSite(path, element, node["reference"], allowed))
        return
    if "resourceType" in node:  # a contained resource is walked as what it says it is
        model = resource_class(str(node["resourceType"])) or model
    fields = _fields(model)
    for key, value in node.items():
        field = fields.get(key)
        if field is not None:
            # a CodeableReference declares the types on itself; its inner Reference inherits them
            inner = field.allowed or allowed
            _walk(value, field.model, f"{path}.{key}", f"{element}.{key}", inner, sites)


@cache
def _fields(model: type[BaseModel]) -> dict[str, _Field]:
    """JSON name -> the model and allowed reference types of every complex field of a model."""
    fields = {}
    for name, info in model.model_fields.items():
        child = _model_of(info.annotation)
        if child is None:
            continue  # a primitive: no reference inside
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        declared = typing.cast(list[str], extra.get("enum_reference_types") or [])
        allowed = () if ANY_RESOURCE in declared else tuple(declared)
        fields[info.alias or name] = _Field(child, allowed)
    return fields


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The FHIR model class inside ``X | None`` / ``list[X] | None``, if X is complex."""
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        return annotation.get_model_klass()
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
