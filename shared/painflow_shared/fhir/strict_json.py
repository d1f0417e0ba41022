"""Strict JSON for FHIR bodies: UTF-8, no duplicate keys, bounded nesting, no NUL characters.

Nesting is measured on the raw bytes before ``json.loads`` builds anything: the stdlib parser
and the R4B models both recurse, so a body nested a thousand levels deep would otherwise end
in a RecursionError. FHIR strings may not contain U+0000 (nor any control character but
tab, CR and LF, which ``json`` already refuses unescaped), so an escaped ``\\u0000`` is refused.
Diagnostics give positions and element paths, never the text sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest

MAX_JSON_DEPTH = 64  # levels of arrays/objects; a FHIR resource rarely needs more than 20

# A string, or an unterminated one up to the end: every quote starts a match and nothing is
# retried (possessive), so stripping strings stays linear even on hostile input.
_STRING = re.compile(rb'"[^"\\]*+(?:\\(?:.|\Z)[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
# \u0000 escaped in JSON: a backslash-u preceded by an even number of backslashes
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", re.ASCII)


def load_strict_json(raw: bytes, *, what: str = "the body") -> Any:
    """Parse ``raw`` (UTF-8 JSON) or raise a 400 InvalidRequest saying which rule it breaks."""
    check_nesting(raw, what=what)
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{what} is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except _DuplicateKey as exc:
        raise InvalidRequest(f"a JSON object in {what} repeats the property {exc.key}") from exc
    if _ESCAPED_NUL.search(raw):
        path = nul_path(data)
        raise InvalidRequest(
            "a FHIR string may not contain the NUL character (U+0000)",
            expression=path,
        )
    return data


def check_nesting(raw: bytes, *, what: str = "the body", limit: int = MAX_JSON_DEPTH) -> None:
    """A 400 when arrays/objects in ``raw`` nest deeper than ``limit`` levels.

    Strings are dropped first (brackets inside them do not count), then innermost ``[]``/``{}``
    pairs are removed once per pass, each pass in C: pairs still left after ``limit`` passes
    mean a deeper nesting. Brackets that never pair are malformed JSON; when there are few,
    ``json.loads`` (whose recursion they bound) says precisely where.
    """
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    for _ in range(limit):
        reduced = _INNERMOST_PAIR.sub(b"", brackets)
        if reduced == brackets:
            break
        brackets = reduced
    if _INNERMOST_PAIR.search(brackets):
        raise InvalidRequest(f"the JSON nests deeper than {limit} levels")
    if len(brackets) > limit:
        raise InvalidRequest(f"{what} is not valid JSON: its brackets do not balance")


def nul_path(node: Any, path: str = "") -> str | None:
    """The element path of the first string (or key) holding U+0000; depth is already bounded."""
    if isinstance(node, str):
        return (path or "$") if "\x00" in node else None
    items: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if any("\x00" in key for key in node):
            return path or "$"
        base = path or str(node.get("resourceType") or "$")
        items = [(f"{base}.{key}", value) for key, value in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}[{index}]", value) for index, value in enumerate(node)]
    for item_path, value in items:
        found = nul_path(value, item_path)
        if found:
            return found
    return None


def safe_name(key: str) -> str:
    """A property name fit for a diagnostic: element names are; anything else is not echoed."""
    return f"'{key}'" if _SAFE_NAME.fullmatch(key) else "(a property name that is not echoed)"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = safe_name(key)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen
