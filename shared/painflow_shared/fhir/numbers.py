"""Whole numbers sent by clients (``_count``, ``_offset``, versions, ETags, array indexes).

One way to read them: ASCII digits only, and bounded. ``str.isdigit()`` is true for ``'²'``
(which ``int()`` refuses) and ``str.isdecimal()`` for Arabic-Indic digits, so neither is used;
the length is checked before ``int()``, which refuses more than 4,300 digits with a ValueError.
"""

from __future__ import annotations

import re

from painflow_shared.fhir.errors import InvalidRequest

MAX_INT32 = 2_147_483_647  # the largest version id or index a database integer column holds

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class NumberOutOfRange(InvalidRequest):
    """Digits, but outside the allowed range (callers may answer 404 or 412 instead of 400)."""


def is_ascii_digits(text: str) -> bool:
    return _ASCII_DIGITS.fullmatch(text) is not None


def parse_bounded_int(text: str, *, name: str, maximum: int, minimum: int = 0) -> int:
    """``text`` as an int in ``[minimum, maximum]``; a 400 naming ``name`` otherwise.

    The diagnostics name the parameter and the rule, never the value sent.
    """
    if not is_ascii_digits(text):
        raise InvalidRequest(
            f"{name} must be a whole number written with the digits 0-9", expression=name
        )
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)) or not minimum <= int(digits) <= maximum:
        raise NumberOutOfRange(f"{name} must be from {minimum} to {maximum}", expression=name)
    return int(digits)


def declared_over(text: str, limit: int) -> bool:
    """Whether a declared size (a Content-Length header) is ASCII digits naming more than
    ``limit``; thousands of digits count as more without being converted."""
    if not is_ascii_digits(text):
        return False
    digits = text.lstrip("0") or "0"
    return len(digits) > len(str(limit)) or int(digits) > limit
