"""Instants in request bodies must say their zone: ``2026-03-06T08:00:00`` is refused (400),
``2026-03-06T08:00:00+01:00`` or ``...Z`` is fine. Date-only values are read in the site's zone."""

from __future__ import annotations

import re
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest, Issue

_ZONED = re.compile(r".*T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$")


def require_zones(resource: dict[str, Any], paths: tuple[str, ...]) -> None:
    """400 naming every element (dotted path, one level of nesting) whose time has no zone."""
    issues = []
    kind = resource.get("resourceType", "Resource")
    for path in paths:
        for where, value in _values(resource, path.split(".")):
            if isinstance(value, str) and "T" in value and not _ZONED.fullmatch(value):
                issues.append(
                    Issue(
                        "an instant must carry a zone (Z or +hh:mm)",
                        "value",
                        "error",
                        (f"{kind}.{where}",),
                    )
                )
    if issues:
        raise InvalidRequest(issues[0].diagnostics, issues=issues)


def _values(node: Any, path: list[str], where: str = "") -> list[tuple[str, Any]]:
    if not path:
        return [(where, node)]
    child = node.get(path[0]) if isinstance(node, dict) else None
    name = f"{where}.{path[0]}" if where else path[0]
    if isinstance(child, list):
        return [
            found
            for i, item in enumerate(child)
            for found in _values(item, path[1:], f"{name}[{i}]")
        ]
    return [] if child is None else _values(child, path[1:], name)
