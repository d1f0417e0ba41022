"""JSON in and out of the database, Kafka and responses: orjson, with the standard library's
behaviour where orjson's differs (issue 12).

orjson is several times faster than ``json`` in both directions, but it reads an integer past
64 bits as a float (a FHIR decimal such as 123456789012345678901234567890 would lose digits)
and refuses to write one, or a dict with non-string keys. ``loads`` hands text with a run of 19
or more digits to ``json``; ``dumps`` falls back to ``json`` for what orjson refuses. Both raise
what ``json`` raises for bad input (``orjson.JSONDecodeError`` is a ``json.JSONDecodeError``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# every digit as 0: a run of 19 zeros then means 19 digits in a row (a C-speed test; a regular
# expression took six times as long as orjson's whole parse)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(text: str | bytes) -> Any:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if isinstance(text, bytes):
        text.decode("utf-8")  # a UnicodeDecodeError, where json.loads of bytes would not say
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZERO):
        return json.loads(raw)
    return orjson.loads(raw)


def dumps(value: Any) -> str:
    """Compact JSON text (no spaces; non-ASCII as is)."""
    return dumps_bytes(value).decode("utf-8")


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits, a non-string key: as json writes them
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
