"""Parse FHIR R4 JSON once, at the door, in layers: JSON, resource types, structure, bindings.

Every failure is a FhirError whose issues carry FHIRPath-like ``expression`` paths.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from painflow_shared.fhir.bindings import BUNDLE_REQUEST_METHODS, REQUIRED_BINDINGS
from painflow_shared.fhir.errors import InvalidCode, InvalidRequest, Issue
from painflow_shared.fhir.invariants import check_invariants
from painflow_shared.fhir.model_errors import model_issue
from painflow_shared.fhir.strict_json import load_strict_json

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}", re.ASCII)


def read_json(raw: bytes) -> dict[str, Any]:
    """Strict JSON (see ``strict_json``): no duplicate keys, bounded depth, an object at the top."""
    data = load_strict_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object (a FHIR resource)")
    return data


@lru_cache(maxsize=256)
def resource_class(resource_type: str) -> type[Resource] | None:
    """The R4B model for a resource type, or None when it is not a FHIR resource."""
    if not _TYPE_NAME.fullmatch(resource_type):
        return None
    try:
        cls = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError):
        return None
    return cls if issubclass(cls, Resource) else None


def parse_resource(data: dict[str, Any], expected_type: str | None = None) -> Resource:
    """Validate a resource's JSON and return the typed R4B model."""
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidRequest("resourceType is missing", expression="resourceType")
    if expected_type and resource_type != expected_type:
        sent = f", got a {resource_type}" if resource_class(resource_type) else ""
        raise InvalidRequest(f"expected a {expected_type}{sent}", expression="resourceType")
    _check_types(data, resource_type)
    cls = resource_class(resource_type)
    assert cls is not None  # _check_types refused unknown types
    try:
        resource = cls.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(
            f"{resource_type} does not conform to FHIR R4",
            issues=[model_issue(resource_type, err) for err in exc.errors()],
        ) from exc
    _check_bindings(data, resource_type)
    check_invariants(data)
    return resource


def _check_types(data: dict[str, Any], path: str) -> None:
    """Refuse unknown resourceTypes anywhere (the models raise KeyError on those)."""
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or resource_class(resource_type) is None:
        raise InvalidRequest(
            "resourceType must name a FHIR R4 resource type", expression=f"{path}.resourceType"
        )
    for index, contained in enumerate(_as_list(data.get("contained"))):
        if isinstance(contained, dict):
            _check_types(contained, f"{path}.contained[{index}]")
    for index, entry in enumerate(_as_list(data.get("entry"))):
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            _check_types(entry["resource"], f"{path}.entry[{index}].resource")


def _check_bindings(data: dict[str, Any], path: str) -> None:
    resource_type = str(data.get("resourceType"))
    issues = list(_binding_issues(data, resource_type, path))
    if issues:
        raise InvalidCode(issues[0].diagnostics, issues=issues)


def _binding_issues(data: dict[str, Any], resource_type: str, path: str) -> list[Issue]:
    issues = []
    for element, allowed in REQUIRED_BINDINGS.get(resource_type, {}).items():
        value = data.get(element)
        if value is not None and value not in allowed:
            issues.append(
                Issue(
                    f"{resource_type}.{element} must be one of: {', '.join(sorted(allowed))}",
                    "code-invalid",
                    expression=(f"{path}.{element}",),
                )
            )
    for index, entry in enumerate(_as_list(data.get("entry"))):
        if not isinstance(entry, dict):
            continue
        entry_path = f"{path}.entry[{index}]"
        method = (entry.get("request") or {}).get("method")
        if method is not None and method not in BUNDLE_REQUEST_METHODS:
            issues.append(
                Issue(
                    "unknown request method",
                    "code-invalid",
                    "error",
                    (f"{entry_path}.request.method",),
                )
            )
        resource = entry.get("resource")
        if isinstance(resource, dict):
            issues += _binding_issues(
                resource, str(resource.get("resourceType")), f"{entry_path}.resource"
            )
    return issues


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def to_json(resource: Resource) -> dict[str, Any]:
    data: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return data
