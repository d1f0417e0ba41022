"""Reading a search's query string: strict by default, lenient on request, always bounded."""

from __future__ import annotations

import pytest

from painflow_shared.fhir.errors import (
    FhirError,
    InvalidRequest,
    SearchTooCostly,
    UnsupportedSearch,
)
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry, date_range
from painflow_shared.fhir.search_query import (
    MAX_COUNT,
    parse_query,
    read_shaping,
)

REGISTRY = SearchParamRegistry(
    {
        "Patient": [
            SearchParam("family", "string", "name.family"),
            SearchParam("gender", "token", "gender"),
            SearchParam("birthdate", "date", "birthDate"),
            SearchParam("organization", "reference", "managingOrganization", "Organization"),
        ],
        "Task": [
            SearchParam("focus", "reference", "focus"),
            SearchParam("patient", "reference", "for", target="Patient"),
        ],
    }
)


def _parse(*params: tuple[str, str], resource_type: str = "Patient", lenient: bool = False):
    return parse_query(REGISTRY, resource_type, list(params), lenient=lenient)


def test_criteria_modifiers_and_values_are_read():
    query = _parse(
        ("family:contains", "mit,ers"), ("gender:not", "male"), ("family:missing", "false")
    )
    assert [(c.param.name, c.modifier, c.values) for c in query.criteria] == [
        ("family", "contains", ("mit", "ers")),
        ("gender", "not", ("male",)),
        ("family", "missing", ("false",)),
    ]


def test_a_type_modifier_on_a_reference_must_be_a_type_it_can_refer_to():
    assert _parse(("focus:ServiceRequest", "1"), resource_type="Task").criteria[0].modifier == (
        "ServiceRequest"
    )
    with pytest.raises(UnsupportedSearch):
        _parse(("patient:Practitioner", "1"), resource_type="Task")
    with pytest.raises(UnsupportedSearch):
        _parse(("focus:Nonsense", "1"), resource_type="Task")


@pytest.mark.parametrize(
    "name",
    [
        "family:text",
        "family:below",
        "family:",
        "family:Jane Doe",
        "gender:text",
        "gender:exact",
        "birthdate:exact",
        "organization:identifier",
        "nonsense",
        "_foo",
        "_has:Task:x",
        "name.x",
    ],
)
def test_unknown_or_unsupported_parameters_and_modifiers_are_400(name):
    with pytest.raises(UnsupportedSearch) as caught:
        _parse((name, "x"))
    assert caught.value.status == 400 and caught.value.issues[0].code == "not-supported"
    assert "Jane" not in caught.value.diagnostics


@pytest.mark.parametrize(
    "include",
    ["Patient:foo", "Patient:gender", "Task:patient", "*", "Patient:organization:Patient"],
)
def test_includes_this_type_cannot_follow_are_400(include):
    with pytest.raises(UnsupportedSearch):
        _parse(("_include", include))


def test_includes_it_can_follow_are_read():
    query = _parse(
        ("_include", "Patient:organization"), ("_include", "Patient:organization:Organization")
    )
    assert [(i.param.name, i.target) for i in query.includes] == [
        ("organization", None),
        ("organization", "Organization"),
    ]


@pytest.mark.parametrize(
    "param", [("_revinclude", "Task:patient"), ("_include:iterate", "Patient:organization")]
)
def test_revinclude_and_include_modifiers_are_not_supported(param):
    with pytest.raises(UnsupportedSearch):
        _parse(param)


def test_lenient_handling_ignores_the_unknown_and_keeps_it_out_of_the_links():
    query = _parse(("family", "a"), ("nonsense", "1"), ("family:foo", "b"), lenient=True)
    assert [c.values for c in query.criteria] == [("a",)]
    assert query.kept == [("family", "a")]
    assert [w.severity for w in query.warnings] == ["warning", "warning"]


def test_lenient_handling_still_refuses_malformed_values():
    with pytest.raises(InvalidRequest):
        _parse(("birthdate", "not-a-date"), lenient=True)


@pytest.mark.parametrize(
    "params",
    [
        [("family", "q" * 513)],
        [("family", ",".join("n" * 3 for _ in range(101)))],
        [("gender", "male")] * 21,
        [("_count", "1")] * 51,
        [("_offset", "10001")],
    ],
    ids=["value length", "or values", "criteria", "parameters", "offset"],
)
def test_limits_are_400_before_any_database_work(params):
    with pytest.raises(FhirError) as caught:
        _parse(*params)
    assert caught.value.status == 400


def test_values_at_the_limits_are_accepted():
    _parse(("family", "q" * 512), ("gender", ",".join(["x"] * 100)), ("_offset", "10000"))


@pytest.mark.parametrize("value", ["²", "-1", "99999999999999999999999999"])
def test_count_and_offset_take_bounded_ascii_digits(value):
    for name in ("_count", "_offset"):
        with pytest.raises(InvalidRequest) as caught:
            _parse((name, value))
        assert caught.value.issues[0].expression == (name,)
        assert value not in caught.value.diagnostics


def test_a_large_count_is_served_as_the_maximum():
    assert _parse(("_count", "1000000")).count == MAX_COUNT


def test_result_parameters_are_accepted_and_checked():
    query = _parse(
        ("_summary", "count"),
        ("_elements", "name,gender"),
        ("_total", "accurate"),
        ("_pretty", "true"),
        ("_format", "json"),
        ("_sort", "-_lastUpdated"),
    )
    assert query.summary == "count" and query.elements == ("name", "gender")
    for bad in [("_summary", "maybe"), ("_total", "all")]:
        with pytest.raises(InvalidRequest):
            _parse(bad)
    for unsupported in [("_elements", "name.family"), ("_sort", "family")]:
        with pytest.raises(UnsupportedSearch):
            _parse(unsupported)


def test_an_invalid_date_names_the_parameter_not_the_value():
    with pytest.raises(InvalidRequest) as caught:
        _parse(("birthdate", "ge1933-07-29x"))
    assert "1933" not in caught.value.diagnostics
    assert caught.value.issues[0].expression == ("birthdate",)


@pytest.mark.parametrize("value", ["9999", "9999-12-31T23:59:59Z", "0001", "ge2020-02"])
def test_dates_at_the_edges_of_the_calendar_are_ranges(value):
    bounds = date_range(value)
    assert bounds is not None and bounds.low < bounds.high


ARABIC_INDIC_YEAR = "\u0662\u0660\u0662\u0660"


@pytest.mark.parametrize("value", ["20200101", "2020-02-30", "2020-1-1", ARABIC_INDIC_YEAR])
def test_non_fhir_dates_are_not_dates(value):
    assert date_range(value) is None


def test_missing_takes_true_or_false():
    with pytest.raises(InvalidRequest):
        _parse(("family:missing", "maybe"))


def test_reads_take_summary_and_elements_but_not_count():
    assert read_shaping([("_summary", "true"), ("_elements", "gender")]) == ("true", ("gender",))
    with pytest.raises(InvalidRequest):
        read_shaping([("_summary", "count")])
    with pytest.raises(SearchTooCostly):
        _parse(*[("gender", "x")] * 21)
