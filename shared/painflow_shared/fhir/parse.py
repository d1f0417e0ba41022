"""Parse FHIR R4 JSON once, at the door, in layers: JSON, resource types, structure, bindings.

Every failure is a FhirError whose issues carry FHIRPath-like ``expression`` paths.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from painflow_shared.fhir.bindings import BUNDLE_REQUEST_METHODS, REQUIRED_BINDINGS
from painflow_shared.fhir.errors import InvalidCode, InvalidRequest, Issue
from painflow_shared.fhir.invariants import check_invariants


def read_json(raw: bytes) -> dict[str, Any]:
    """Strict JSON: no comments, no duplicate keys, an object at the top."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except _DuplicateKey as exc:
        raise InvalidRequest(f"the JSON object repeats the property '{exc.key}'") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object (a FHIR resource)")
    return data


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


@lru_cache(maxsize=256)
def resource_class(resource_type: str) -> type[Resource] | None:
    """The R4B model for a resource type, or None when it is not a FHIR resource."""
    if not resource_type.isalpha() or not resource_type[:1].isupper():
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
        raise InvalidRequest(
            f"expected a {expected_type}, got a {resource_type}", expression="resourceType"
        )
    _check_types(data, resource_type)
    cls = resource_class(resource_type)
    assert cls is not None  # _check_types refused unknown types
    try:
        resource = cls.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(
            f"{resource_type} does not conform to FHIR R4",
            issues=[_issue_from_pydantic(resource_type, err) for err in exc.errors()],
        ) from exc
    _check_bindings(data, resource_type)
    check_invariants(data)
    return resource


def _check_types(data: dict[str, Any], path: str) -> None:
    """Refuse unknown resourceTypes anywhere (the models raise KeyError on those)."""
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or resource_class(resource_type) is None:
        raise InvalidRequest(
            f"unknown resourceType '{str(resource_type)[:64]}'", expression=f"{path}.resourceType"
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


def _issue_from_pydantic(resource_type: str, err: Any) -> Issue:
    path = resource_type + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in err.get("loc", ())
    )
    return Issue(str(err.get("msg", "invalid")), "structure", "error", (path,))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def to_json(resource: Resource) -> dict[str, Any]:
    data: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return data
