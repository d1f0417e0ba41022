"""Pydantic validation errors as FHIR issues that name the element and the rule, not the value.

Pydantic's ``msg`` may quote the input (``Input should be 'a' or 'b'`` is fine, but a
``value_error`` raised by any validator may say anything), so the text comes from the error
``type`` and the safe parts of its context; ``err['input']`` is never read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from painflow_shared.fhir.errors import Issue

_RULES = {
    "missing": "is required",
    "extra_forbidden": "is not an element of this type",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "does not match the format of its FHIR type",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "literal_error": "is not one of the allowed values",
    "enum": "is not one of the allowed values",
    "greater_than": "is below its allowed range",
    "greater_than_equal": "is below its allowed range",
    "less_than": "is above its allowed range",
    "less_than_equal": "is above its allowed range",
    "too_short": "has too few items",
    "too_long": "has too many items",
    "url_parsing": "is not a valid URL",
    "url_type": "is not a valid URL",
}
_DATE_TYPES = re.compile(r"^(date|datetime|time|timezone)_")
# fhir_core's own value errors, which name types and elements only
_SAFE_VALUE_ERRORS = re.compile(
    r"^(\w+ value string does not match spec regex\."
    r"|\w+ value does not parse to datetime\."
    r"|\w+ must be timezone aware( if it has a time component)?\."
    r"|Any of one field value is expected from this list \[[\w', ]*\], but got multiple!"
    r"|Expect any of field value from this list \[[\w', ]*\]\.)$"
)


def model_issue(resource_type: str, err: Mapping[str, Any]) -> Issue:
    """One FHIR issue for one pydantic error of a ``resource_type`` model."""
    path = resource_type + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in err.get("loc", ())
    )
    return Issue(f"{path} {model_rule(err)}", "structure", "error", (path,))


def model_rule(err: Mapping[str, Any]) -> str:
    """What rule the value broke, in words that never include the value."""
    kind = str(err.get("type", ""))
    if kind in _RULES:
        return _RULES[kind]
    if _DATE_TYPES.match(kind):
        return "is not a valid FHIR date, dateTime or time"
    if kind == "value_error":
        reason = str((err.get("ctx") or {}).get("error", ""))
        return f"is invalid: {reason}" if _SAFE_VALUE_ERRORS.match(reason) else "is invalid"
    return f"is invalid ({kind or 'unknown rule'})"
