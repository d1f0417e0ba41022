"""Numbers from clients: ASCII digits only, bounded, and never an exception but a 400."""

from __future__ import annotations

import pytest

from painflow_shared.fhir.errors import InvalidRequest
from painflow_shared.fhir.numbers import NumberOutOfRange, is_ascii_digits, parse_bounded_int


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("7", 7), ("007", 7), ("100", 100)])
def test_ascii_digits_within_the_bound_are_read(text, expected):
    assert parse_bounded_int(text, name="_count", maximum=100) == expected


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "\u0661\u0662",  # Arabic-Indic: isdecimal() is true
        "\uff11\uff12",  # full-width digits
        "",
        " 1",
        "1 ",
        "+1",
        "-1",
        "1.0",
        "1e3",
        "0x10",
        "1_000",
    ],
)
def test_anything_but_ascii_digits_is_a_400_naming_the_parameter(text):
    with pytest.raises(InvalidRequest) as caught:
        parse_bounded_int(text, name="_offset", maximum=10)
    assert not isinstance(caught.value, NumberOutOfRange)
    assert caught.value.issues[0].expression == ("_offset",)
    assert "digits 0-9" in caught.value.diagnostics


@pytest.mark.parametrize("text", ["101", "99999999999999999999999999", "9" * 5000])
def test_digits_past_the_bound_are_out_of_range_without_echoing_them(text):
    with pytest.raises(NumberOutOfRange) as caught:
        parse_bounded_int(text, name="_offset", maximum=100)
    assert caught.value.diagnostics == "_offset must be from 0 to 100"


def test_below_the_minimum_is_out_of_range():
    with pytest.raises(NumberOutOfRange):
        parse_bounded_int("0", name="version", maximum=10, minimum=1)


def test_is_ascii_digits_refuses_what_isdigit_and_isdecimal_accept():
    assert "²".isdigit() and "\u0661".isdecimal()
    assert not is_ascii_digits("²") and not is_ascii_digits("\u0661") and is_ascii_digits("42")


def test_a_declared_size_of_thousands_of_digits_is_over_any_limit_without_converting_it():
    from painflow_shared.fhir.numbers import declared_over

    assert declared_over("9" * 5000, 1024)
    assert declared_over("1025", 1024)
    assert not declared_over("1024", 1024)
    assert not declared_over("000001024", 1024)
    assert not declared_over("²", 1024)  # not a size at all: the streamed count decides
