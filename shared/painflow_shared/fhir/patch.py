"""JSON Patch (RFC 6902) for FHIR PATCH: add, remove, replace and test, on named elements."""

from __future__ import annotations

import copy
import json
from typing import Any

from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest, UnsupportedMediaType

JSON_PATCH = "application/json-patch+json"
SUPPORTED_OPS = frozenset({"add", "remove", "replace", "test"})


def read_json_patch(content_type: str | None, raw: bytes) -> list[dict[str, Any]]:
    if (content_type or "").split(";")[0].strip().lower() != JSON_PATCH:
        raise UnsupportedMediaType(f"PATCH takes {JSON_PATCH}")
    try:
        operations = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("the JSON Patch is not valid JSON") from exc
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise InvalidRequest("a JSON Patch is an array of operations")
    return operations


def apply_json_patch(
    resource: dict[str, Any], operations: list[dict[str, Any]], *, allowed: tuple[str, ...]
) -> dict[str, Any]:
    """Apply ``operations`` to a copy; only top-level elements in ``allowed`` may change."""
    result = copy.deepcopy(resource)
    for index, op in enumerate(operations):
        name, path = op.get("op"), op.get("path")
        if name not in SUPPORTED_OPS or not isinstance(path, str) or not path.startswith("/"):
            raise InvalidRequest(
                f"operation {index}: op must be one of {sorted(SUPPORTED_OPS)} "
                "with a JSON pointer path"
            )
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
        if tokens[0] not in allowed and name != "test":
            raise BusinessRuleViolation(
                f"operation {index}: {tokens[0]} cannot be patched here; "
                f"allowed: {', '.join(allowed)}"
            )
        _apply(result, tokens, name, op, index)
    return result


def _apply(
    document: dict[str, Any], tokens: list[str], name: str, op: dict[str, Any], index: int
) -> None:
    parent = _walk(document, tokens[:-1], index)
    last = tokens[-1]
    if name == "test":
        if _get(parent, last, index) != op.get("value"):
            raise BusinessRuleViolation(f"operation {index}: test failed at {op['path']}")
    elif isinstance(parent, list):
        _apply_list(parent, last, name, op, index)
    elif name == "remove":
        if last not in parent:
            raise InvalidRequest(f"operation {index}: nothing at {op['path']}")
        del parent[last]
    else:
        if name == "replace" and last not in parent:
            raise InvalidRequest(f"operation {index}: nothing to replace at {op['path']}")
        parent[last] = op.get("value")


def _apply_list(parent: list[Any], last: str, name: str, op: dict[str, Any], index: int) -> None:
    if last == "-" and name == "add":
        parent.append(op.get("value"))
        return
    position = _index(last, len(parent) + (1 if name == "add" else 0), index)
    if name == "add":
        parent.insert(position, op.get("value"))
    elif name == "remove":
        parent.pop(position)
    else:
        parent[position] = op.get("value")


def _walk(node: Any, tokens: list[str], index: int) -> Any:
    for token in tokens:
        node = _get(node, token, index)
    if not isinstance(node, dict | list):
        raise InvalidRequest(f"operation {index}: the path does not lead into an object or array")
    return node


def _get(node: Any, token: str, index: int) -> Any:
    if isinstance(node, list):
        return node[_index(token, len(node), index)]
    if isinstance(node, dict) and token in node:
        return node[token]
    raise InvalidRequest(f"operation {index}: no element '{token}'")


def _index(token: str, size: int, index: int) -> int:
    if not token.isdigit() or int(token) >= size:
        raise InvalidRequest(f"operation {index}: '{token}' is not an index in the array")
    return int(token)
