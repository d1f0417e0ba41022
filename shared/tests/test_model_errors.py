"""Structure errors name the element and the rule, never the value sent."""

from __future__ import annotations

import pytest

from painflow_shared.fhir.errors import InvalidRequest
from painflow_shared.fhir.model_errors import model_rule
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.references import parse_relative

SECRET = "Jane-Doe-1933"


@pytest.mark.parametrize(
    ("element", "value", "path", "rule"),
    [
        ("birthDate", f"{SECRET}-07-29x", "Patient.birthDate", "does not match spec regex"),
        ("gender", 5, "Patient.gender", "must be a string"),
        ("name", SECRET, "Patient.name", "must be an array"),
        (SECRET, "x", f"Patient.{SECRET}", "is not an element"),
        ("id", f"{SECRET} !", "Patient.id", "does not match the format"),
        ("deceasedDateTime", f"{SECRET}T99", "Patient.deceasedDateTime", "does not match"),
    ],
)
def test_structure_errors_never_echo_the_value(element, value, path, rule):
    with pytest.raises(InvalidRequest) as caught:
        parse_resource({"resourceType": "Patient", element: value})
    issue = caught.value.issues[0]
    assert issue.expression == (path,)
    assert rule in issue.diagnostics
    assert SECRET not in issue.diagnostics.replace(path, "")


def test_an_unknown_value_error_is_not_repeated():
    err = {"type": "value_error", "ctx": {"error": ValueError(f"bad value {SECRET}")}}
    assert model_rule(err) == "is invalid"


def test_an_unknown_resource_type_is_not_echoed():
    with pytest.raises(InvalidRequest) as caught:
        parse_resource({"resourceType": SECRET})
    assert SECRET not in caught.value.diagnostics
    with pytest.raises(InvalidRequest) as caught:
        parse_resource({"resourceType": SECRET}, expected_type="Patient")
    assert SECRET not in caught.value.diagnostics


def test_a_malformed_reference_is_not_echoed():
    with pytest.raises(InvalidRequest) as caught:
        parse_relative(f"Patient name {SECRET}")
    assert SECRET not in caught.value.diagnostics
