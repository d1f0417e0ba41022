"""Compiled (jsonschema-rs) validators that answer exactly as the Python `jsonschema` ones do.

`EventContracts.validate` asks these first and runs the Python validator only for a message they
reject, so every reason is still the Python one. That is only safe if the two never disagree.
They would on `pattern`: jsonschema-rs reads a pattern as ECMA-262 (`\\d` is ASCII, `\\s` has
U+FEFF but not U+001C-U+001F or U+0085, `$` is the very end, `.` stops at U+2028), Python's
`re.search` as Python (`\\d` is any Unicode decimal, `$` also matches before a final newline).
So every pattern is rewritten into an explicit form both read the same way; a pattern that uses
anything else becomes one that never matches, so that the Python validator decides whenever it
applies. Formats are annotations in both (no format checker, `validate_formats=False`).
A value jsonschema-rs cannot read (a lone surrogate, bytes, NaN) counts as rejected, so Python
decides. Instances are JSON data as `json.loads` gives them: jsonschema-rs would take a tuple
for an array, which `jsonschema` does not (no decoder produces one; the consumer decodes JSON).
"""

from __future__ import annotations

import array
import copy
import functools
import re
import string
import sys
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema_rs

# Keywords whose values are data, not schemas: a "pattern" key below them is not a keyword.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# A pattern that never matches (end of text, then a character).
_NEVER = "$a"
# Escapes that mean the same single character in both dialects.
_LITERAL_ESCAPES = frozenset(".-/\\^$*+?()[]{}|")
_SAFE_IN_CLASS = frozenset(string.ascii_letters + string.digits + "_:/.+")
_QUANTIFIER = re.compile(r"\{[0-9]+(,[0-9]+)?\}")


class _Untranslatable(ValueError):
    """A pattern construct whose meaning may differ between the two dialects."""


def fast_registry(resources: Iterable[tuple[str, Any]]) -> jsonschema_rs.Registry | None:
    """The schemas (uri, contents), patterns translated; None if jsonschema-rs refuses them."""
    try:
        return jsonschema_rs.Registry(
            [(uri, _translated(contents)) for uri, contents in resources],
            draft=jsonschema_rs.Draft202012,
            retriever=_no_retrieval,
        )
    except (ValueError, jsonschema_rs.ReferencingError):
        return None


def compile_fast(
    schema: dict[str, Any], registry: jsonschema_rs.Registry | None
) -> jsonschema_rs.Validator | None:
    """A compiled validator for `schema` (its $refs into `registry`); None if it fails."""
    if registry is None:
        return None
    try:
        return jsonschema_rs.Draft202012Validator(
            schema,
            registry=registry,
            validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions(),
        )
    except (ValueError, jsonschema_rs.ReferencingError):
        return None  # the caller keeps the Python validator for this schema


def fast_is_valid(validator: jsonschema_rs.Validator, instance: object) -> bool:
    """True only when the compiled validator accepts; anything it cannot read counts as no."""
    try:
        return bool(validator.is_valid(instance))
    except (ValueError, TypeError, OverflowError, RecursionError):
        return False  # e.g. a lone surrogate or bytes: the Python validator decides


def _no_retrieval(uri: str) -> Any:
    raise ValueError(f"contracts are resolved offline only: {uri}")


def _translated(node: Any) -> Any:
    """A deep copy of a schema with every `pattern` in the shared dialect."""
    if isinstance(node, list):
        return [_translated(item) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            result[key] = copy.deepcopy(value)
        elif key == "pattern" and isinstance(value, str):
            result[key] = shared_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            raise ValueError("patternProperties keys are not translated")
        else:
            result[key] = _translated(value)
    return result


def shared_pattern(pattern: str) -> str:
    """`pattern` as a regex that jsonschema-rs matches exactly where `re.search` does."""
    try:
        return "".join(_tokens(pattern))
    except _Untranslatable:
        return _NEVER


def _tokens(pattern: str) -> Iterable[str]:
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            yield _escape(pattern[index + 1 : index + 2])
            index += 2
        elif char in "[{":
            end = _class_end(pattern, index) if char == "[" else _quantifier_end(pattern, index)
            yield pattern[index : end + 1]
            index = end + 1
        else:
            yield _outside_class(pattern, index)
            index += 1


def _outside_class(pattern: str, index: int) -> str:
    char = pattern[index]
    if char == "$":
        return r"(?:\n?$)"  # Python's `$`: the end, or just before a final newline
    if char == ".":
        return r"[^\n]"  # ECMA's `.` also stops at \r, U+2028 and U+2029
    if (
        char == "("
        and pattern[index + 1 : index + 2] == "?"
        and pattern[index + 2 : index + 3] != ":"
    ):
        raise _Untranslatable(pattern)  # lookarounds, named groups, inline flags
    if char in "]}":
        raise _Untranslatable(pattern)  # literal in Python, an error or worse elsewhere
    return char


def _quantifier_end(pattern: str, start: int) -> int:
    """Index of the `}` of a `{m}` or `{m,n}` quantifier (Python reads any other `{` as text)."""
    found = _QUANTIFIER.match(pattern, start)
    if found is None:
        raise _Untranslatable(pattern)
    return found.end() - 1


def _escape(char: str) -> str:
    if char in _LITERAL_ESCAPES and char:
        return "\\" + char
    classes: dict[str, Callable[[], str]] = {
        "d": lambda: _py_class(_decimals()),
        "D": lambda: _py_class(_decimals(), negated=True),
        "s": lambda: _py_class(_spaces()),
        "S": lambda: _py_class(_spaces(), negated=True),
    }
    if char not in classes:
        raise _Untranslatable(char)
    return classes[char]()


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class at `start`, if every member is plain."""
    index = start + 1
    if pattern[index : index + 1] == "^":
        index += 1
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and index > start + 1:
            return index
        if char == "\\" and pattern[index + 1 : index + 2] in ("-", ".", "/", "\\", "]", "^"):
            index += 2
        elif char in _SAFE_IN_CLASS or _range_dash(pattern, index, start):
            index += 1
        else:
            raise _Untranslatable(pattern)  # nested classes, set operations, class escapes
    raise _Untranslatable(pattern)


def _range_dash(pattern: str, index: int, start: int) -> bool:
    return pattern[index] == "-" and pattern[index - 1] != "-" and index > start + 1


@functools.cache
def _py_class(members: tuple[tuple[int, int], ...], *, negated: bool = False) -> str:
    ranges = "".join(
        f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}"
        for low, high in members
    )
    return f"[{'^' if negated else ''}{ranges}]"


@functools.cache
def _decimals() -> tuple[tuple[int, int], ...]:
    return _ranges(r"\d+")


@functools.cache
def _spaces() -> tuple[tuple[int, int], ...]:
    return _ranges(r"\s+")


def _ranges(runs: str) -> tuple[tuple[int, int], ...]:
    """The code point ranges Python's `re` itself matches with `runs` (a class, repeated)."""
    return tuple((found.start(), found.end() - 1) for found in re.finditer(runs, _every_char()))


@functools.cache
def _every_char() -> str:
    """Every code point once, in order (UTF-32 decoding is ~30x faster than joining chr())."""
    codes = array.array("I", range(0x110000))
    if sys.byteorder == "big":
        codes.byteswap()
    return codes.tobytes().decode("utf-32-le", "surrogatepass")
