"""Content negotiation, charsets and If-Match: the rules a FHIR client meets before any work."""

from __future__ import annotations

import pytest

from painflow_shared.fhir.errors import InvalidRequest, NotAcceptable, PreconditionFailed
from painflow_shared.fhir.media import declares_other_charset
from painflow_shared.fhir.negotiation import check_acceptable, prefers_lenient, wants_pretty
from painflow_shared.fhir.versions import parse_if_match


@pytest.mark.parametrize(
    "fmt", ["json", "application/json", "application/fhir+json", "application/json+fhir"]
)
def test_json_formats_are_served(fmt):
    check_acceptable([fmt], "application/fhir+xml")  # _format wins over Accept


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "text/html", "ttl", ""])
def test_other_formats_are_406(fmt):
    with pytest.raises(NotAcceptable) as caught:
        check_acceptable([fmt], None)
    assert caught.value.status == 406 and caught.value.issues[0].expression == ("_format",)


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/*",
        "application/json",
        "application/fhir+json;q=0.9, application/fhir+xml",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ],
)
def test_accept_headers_that_allow_json_are_served(accept):
    check_acceptable([], accept)


@pytest.mark.parametrize(
    "accept", ["application/fhir+xml", "application/xml, text/xml", "application/json;q=0"]
)
def test_accept_headers_that_allow_only_other_types_are_406(accept):
    with pytest.raises(NotAcceptable):
        check_acceptable([], accept)


def test_pretty_takes_true_or_false():
    assert wants_pretty(["true"]) and not wants_pretty(["false"]) and not wants_pretty([])
    with pytest.raises(InvalidRequest):
        wants_pretty(["yes"])


@pytest.mark.parametrize(
    ("prefer", "lenient"),
    [
        ("handling=lenient", True),
        ("return=minimal; handling=lenient", True),
        ("return=minimal, Handling=Lenient", True),
        ("handling=strict", False),
        (None, False),
    ],
)
def test_prefer_handling(prefer, lenient):
    assert prefers_lenient(prefer) is lenient


@pytest.mark.parametrize(
    ("content_type", "other"),
    [
        ("application/fhir+json", False),
        ("application/fhir+json; charset=utf-8", False),
        ('application/fhir+json; charset="UTF-8"', False),
        ("application/fhir+json;charset=utf8", False),
        ("application/fhir+json; charset=latin-1", True),
        ("application/fhir+json; charset=ISO-8859-1", True),
        ("application/fhir+json; fhirVersion=4.0", False),
    ],
)
def test_charsets_other_than_utf8_are_noticed(content_type, other):
    assert declares_other_charset(content_type) is other


def test_if_match_takes_ascii_versions_and_an_impossible_one_is_never_current():
    assert parse_if_match('W/"3"') == 3 and parse_if_match('"12"') == 12
    assert parse_if_match(None) is None
    for malformed in ('W/"²"', 'W/"\u0661"', "3", 'W/"-1"', 'W/""'):
        with pytest.raises(InvalidRequest):
            parse_if_match(malformed)
    for impossible in ('W/"0"', 'W/"' + "9" * 5000 + '"'):
        with pytest.raises(PreconditionFailed):
            parse_if_match(impossible)
