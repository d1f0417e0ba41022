"""Search on a real PostgreSQL index: modifiers honoured, limits stop before the database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from painflow_shared.fhir.errors import FhirError
from painflow_shared.fhir.search import page_links, parse_query, run_search
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry
from painflow_shared.fhir.store import ResourceStore

REGISTRY = SearchParamRegistry(
    {
        "Patient": [
            SearchParam("family", "string", "name.family"),
            SearchParam("gender", "token", "gender"),
            SearchParam("birthdate", "date", "birthDate"),
        ],
        "Task": [SearchParam("patient", "reference", "for", target="Patient")],
    }
)


def _patient(family: str, gender: str, birth: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family}]}
    body["gender"] = gender
    if birth:
        body["birthDate"] = birth
    return body


@pytest.fixture
def session(pg_engine):
    with Session(pg_engine) as session:
        store = ResourceStore(session, REGISTRY)
        store.create(_patient("Smithers", "male", "1970-01-01"), resource_id="p1")
        store.create(_patient("Blacksmith", "female"), resource_id="p2")
        store.create(_patient("Jones", "other", "1980-05-05"), resource_id="p3")
        store.create({"resourceType": "Task", "for": {"reference": "Patient/p1"}}, resource_id="t1")
        store.create(
            {"resourceType": "Task", "for": {"reference": "Patient/x_y"}}, resource_id="t2"
        )
        session.commit()
        yield session


def _ids(session: Session, resource_type: str, *params: tuple[str, str]) -> set[str]:
    query = parse_query(REGISTRY, resource_type, list(params))
    return {r["id"] for r in run_search(session, REGISTRY, resource_type, query).resources}


def test_string_modifiers(session):
    assert _ids(session, "Patient", ("family", "smith")) == {"p1"}
    assert _ids(session, "Patient", ("family:contains", "SMITH")) == {"p1", "p2"}
    assert _ids(session, "Patient", ("family:exact", "jones")) == {"p3"}
    assert _ids(session, "Patient", ("family:contains", "%")) == set()


def test_token_not_and_missing(session):
    assert _ids(session, "Patient", ("gender:not", "male")) == {"p2", "p3"}
    assert _ids(session, "Patient", ("birthdate:missing", "true")) == {"p2"}
    assert _ids(session, "Patient", ("birthdate:missing", "false")) == {"p1", "p3"}


def test_reference_type_modifier_and_no_like_wildcards_from_the_client(session):
    assert _ids(session, "Task", ("patient:Patient", "p1")) == {"t1"}
    assert _ids(session, "Task", ("patient", "p1")) == {"t1"}
    assert _ids(session, "Task", ("patient", "x_y")) == {"t2"}
    assert _ids(session, "Task", ("patient", "%")) == set()
    assert _ids(session, "Task", ("patient", "x%")) == set()


def test_dates_at_the_calendar_edges_do_not_fail(session):
    assert _ids(session, "Patient", ("birthdate", "9999")) == set()
    assert _ids(session, "Patient", ("birthdate", "ge0001")) == {"p1", "p3"}


def test_summary_count_returns_the_total_only(session):
    query = parse_query(REGISTRY, "Patient", [("_summary", "count")])
    page = run_search(session, REGISTRY, "Patient", query)
    assert page.total == 3 and page.resources == []


def test_links_keep_what_was_honoured_and_never_loop_on_count_zero(session):
    params = [("gender:foo", "x"), ("family:contains", "smith"), ("_count", "1")]
    query = parse_query(REGISTRY, "Patient", params, lenient=True)
    page = run_search(session, REGISTRY, "Patient", query)
    links = {link["relation"]: link["url"] for link in page_links("http://x/fhir", "Patient", page)}
    assert "gender" not in links["self"] and "family%3Acontains=smith" in links["self"]
    assert "_offset=1" in links["next"]
    query = parse_query(REGISTRY, "Patient", [("_count", "0")])
    page = run_search(session, REGISTRY, "Patient", query)
    assert [link["relation"] for link in page_links("http://x/fhir", "Patient", page)] == ["self"]


def test_an_oversized_search_never_reaches_the_database(session):
    for params in ([("family", "q" * 64_000)], [("family", ",".join(["a"] * 2000))]):
        with pytest.raises(FhirError) as caught:
            parse_query(REGISTRY, "Patient", params)
        assert caught.value.status == 400
