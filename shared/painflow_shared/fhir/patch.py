"""JSON Patch (RFC 6902) for FHIR PATCH: add, remove, replace and test, on named elements."""

from __future__ import annotations

import copy
import re
from typing import Any

from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest, UnsupportedMediaType
from painflow_shared.fhir.numbers import is_ascii_digits, parse_bounded_int
from painflow_shared.fhir.strict_json import load_strict_json, safe_name

JSON_PATCH = "application/json-patch+json"
SUPPORTED_OPS = frozenset({"add", "remove", "replace", "test"})
_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}", re.ASCII)


def read_json_patch(content_type: str | None, raw: bytes) -> list[dict[str, Any]]:
    if (content_type or "").split(";")[0].strip().lower() != JSON_PATCH:
        raise UnsupportedMediaType(f"PATCH takes {JSON_PATCH}")
    operations = load_strict_json(raw, what="the JSON Patch")
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
        where = element_path(str(resource.get("resourceType", "Resource")), tokens)
        if tokens[0] not in allowed and name != "test":
            raise BusinessRuleViolation(
                f"operation {index}: {safe_name(tokens[0])} cannot be patched here; "
                f"allowed: {', '.join(allowed)}",
                expression=where,
            )
        try:
            _apply(result, tokens, name, op, index)
        except InvalidRequest as exc:
            raise InvalidRequest(exc.diagnostics, expression=where) from exc
    return result


def element_path(resource_type: str, tokens: list[str]) -> str:
    """``["note", "0", "text"]`` -> ``Task.note[0].text``, up to the first token unfit to echo."""
    path = resource_type
    for token in tokens:
        if is_ascii_digits(token) and len(token) <= 9 and (token == "0" or token[0] != "0"):
            path += f"[{token}]"
        elif _ELEMENT.fullmatch(token):
            path += f".{token}"
        else:
            break
    return path


def _apply(
    document: dict[str, Any], tokens: list[str], name: str, op: dict[str, Any], index: int
) -> None:
    parent = _walk(document, tokens[:-1], index)
    last = tokens[-1]
    if name == "test":
        if _get(parent, last, index) != op.get("value"):
            raise BusinessRuleViolation(f"operation {index}: the test operation failed")
    elif isinstance(parent, list):
        _apply_list(parent, last, name, op, index)
    elif name == "remove":
        if last not in parent:
            raise InvalidRequest(f"operation {index}: there is nothing to remove at the path")
        del parent[last]
    else:
        if name == "replace" and last not in parent:
            raise InvalidRequest(f"operation {index}: there is nothing to replace at the path")
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
    raise InvalidRequest(f"operation {index}: the path names no element {safe_name(token)}")


def _index(token: str, size: int, index: int) -> int:
    """An RFC 6901 array index: ASCII digits without leading zeros, inside the array."""
    name = f"operation {index}: an array index in the path"
    if size == 0:
        raise InvalidRequest(f"{name} points into an empty array")
    if len(token) > 1 and token.startswith("0"):
        raise InvalidRequest(f"{name} must not have leading zeros")
    return parse_bounded_int(token, name=name, maximum=size - 1)
