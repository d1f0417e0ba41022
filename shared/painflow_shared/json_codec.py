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
import re
from typing import Any

import orjson

_LONG_INTEGER = re.compile(r"\d{19}")


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # a UnicodeDecodeError, as json.loads of bytes would not say
    if _LONG_INTEGER.search(text):
        return json.loads(text)
    return orjson.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text (no spaces; non-ASCII as is)."""
    return dumps_bytes(value).decode("utf-8")


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits, a non-string key: as json writes them
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
