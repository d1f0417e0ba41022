"""Hostile and careless input to the referral service over real HTTP (issue 7, items 1, 6, 7).

Each row: the status, an OperationOutcome naming the rule (and the element where there is
one), no echo of the value sent, nothing stored or staged, and the same keep-alive connection
still answering ``GET /fhir/metadata`` afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from painflow_shared.testing.factories import patient

from .api import api
from .conftest import FHIR_JSON, post_referral, stored_counts

pytestmark = pytest.mark.integration

PATCH = {"content-type": "application/json-patch+json"}
XML = "application/fhir+xml"


@dataclass(frozen=True)
class Known:
    """Ids the rows need, made once by posting one referral."""

    patient_id: str
    task_id: str


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # under /fhir; {patient} and {task} are filled in
    status: int
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str | bytes] = field(default_factory=lambda: dict(FHIR_JSON))
    body: Callable[[], bytes] | None = None
    expression: str | None = None  # expected among the first issue's expressions
    secret: str | None = None  # text sent that no diagnostics may repeat
    rule: str | None = None  # words of the rule the diagnostics must state


def _patient_with(element: str, raw_value: str) -> Callable[[], bytes]:
    """A Patient whose ``element`` is the raw JSON text ``raw_value`` (spliced in, unparsed)."""
    return lambda: ('{"resourceType":"Patient","' + element + '":' + raw_value + "}").encode()


def _nested_extension(levels: int) -> str:
    extension = {"url": "http://painflow.test/ext", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://painflow.test/ext", "extension": [extension]}
    return json.dumps([extension])


def _patch_note_index(index: str) -> Callable[[], bytes]:
    add = {"op": "add", "path": "/note", "value": [{"text": "first"}]}
    replace = {"op": "replace", "path": f"/note/{index}/text", "value": "second"}
    return lambda: json.dumps([add, replace]).encode()


def _ascii_patient() -> bytes:
    """Valid in UTF-8 and Latin-1 alike: only the declared charset can be refused."""
    return json.dumps(patient()).encode("ascii")


LONG_FAMILY = "q" * 64_000
ROWS = [
    Row(
        "arrays nested 1,000 levels",
        "POST",
        "/Patient",
        400,
        body=_patient_with("extension", "[" * 1000 + "]" * 1000),
        rule="nests deeper than 64 levels",
    ),
    Row(
        "objects nested 1,000 levels",
        "POST",
        "/Patient",
        400,
        body=_patient_with("contact", '{"a":' * 1000 + "{}" + "}" * 1000),
        rule="nests deeper than 64 levels",
    ),
    Row(
        "extension nested 150 levels",
        "POST",
        "/Patient",
        400,
        body=_patient_with("extension", _nested_extension(150)),
        rule="nests deeper than 64 levels",
    ),
    Row(
        "NUL in a string",
        "POST",
        "/Patient",
        400,
        body=_patient_with("name", '[{"family":"Smi\\u0000th"}]'),
        expression="Patient.name[0].family",
        rule="NUL",
    ),
    Row(
        "charset latin-1",
        "POST",
        "/Patient",
        400,
        headers={"content-type": "application/fhir+json; charset=latin-1"},
        body=_ascii_patient,
        rule="charset",
    ),
    Row(
        "_format=xml on a write",
        "POST",
        "/Patient",
        406,
        params=[("_format", "xml")],
        body=lambda: json.dumps(patient()).encode(),
        expression="_format",
    ),
    Row("_count=²", "GET", "/Patient", 400, [("_count", "²")], expression="_count"),
    Row("_offset=²", "GET", "/Patient", 400, [("_offset", "²")], expression="_offset"),
    Row(
        "_offset past any integer",
        "GET",
        "/Patient",
        400,
        [("_offset", "99999999999999999999999999")],
        expression="_offset",
        secret="99999999999999999999999999",
    ),
    Row("/_history/²", "GET", "/Patient/{patient}/_history/²", 400),
    Row(
        "/_history/ past any version",
        "GET",
        "/Patient/{patient}/_history/99999999999999999999999",
        404,
        secret="99999999999999999999999",
    ),
    Row(
        "PATCH path /note/²/text",
        "PATCH",
        "/Task/{task}",
        400,
        headers=PATCH,
        body=_patch_note_index("²"),
        expression="Task.note",
    ),
    Row(
        "_format=xml on a PATCH",
        "PATCH",
        "/Task/{task}",
        406,
        [("_format", "xml")],
        headers=PATCH,
        body=_patch_note_index("0"),
        expression="_format",
    ),
    Row(
        'If-Match W/"²"',
        "PATCH",
        "/Task/{task}",
        400,
        headers={**PATCH, "if-match": 'W/"²"'.encode()},  # as the raw UTF-8 bytes
        body=_patch_note_index("0"),
        expression="If-Match",
    ),
    Row(
        "If-Match past any version",
        "PATCH",
        "/Task/{task}",
        412,
        headers={**PATCH, "if-match": 'W/"' + "9" * 5000 + '"'},
        body=_patch_note_index("0"),
        secret="9" * 30,
    ),
    Row(
        "family of 64,000 characters",
        "GET",
        "/Patient",
        400,
        [("family", LONG_FAMILY)],
        expression="family",
        secret=LONG_FAMILY[:600],
    ),
    Row(
        "2,000 OR values",
        "GET",
        "/Patient",
        400,
        [("family", ",".join(f"n{i}" for i in range(2000)))],
        expression="family",
    ),
    Row(
        "_include=Patient:foo",
        "GET",
        "/Patient",
        400,
        [("_include", "Patient:foo")],
        expression="_include",
    ),
    Row(
        "_include of a type it cannot include",
        "GET",
        "/ServiceRequest",
        400,
        [("_include", "ServiceRequest:patient:Practitioner")],
        expression="_include",
    ),
    Row(
        "_revinclude",
        "GET",
        "/Patient",
        400,
        [("_revinclude", "Task:patient")],
        expression="_revinclude",
    ),
    Row("an unknown _ parameter", "GET", "/Patient", 400, [("_foo", "1")], expression="_foo"),
    Row(
        "a modifier strings do not take",
        "GET",
        "/Patient",
        400,
        [("family:below", "smith")],
        expression="family",
    ),
    Row("_format=xml", "GET", "/Patient", 406, [("_format", "xml")], expression="_format"),
    Row(
        "_format=application/fhir+xml on a read",
        "GET",
        "/Patient/{patient}",
        406,
        [("_format", XML)],
        expression="_format",
    ),
    Row("Accept: application/fhir+xml", "GET", "/Patient", 406, headers={"accept": XML}),
    Row(
        "Accept: application/fhir+xml on a read",
        "GET",
        "/Patient/{patient}",
        406,
        headers={"accept": XML},
    ),
    Row(
        "an invalid date in a search",
        "GET",
        "/Patient",
        400,
        [("birthdate", "1933-07-29x")],
        expression="birthdate",
        secret="1933-07-29",
    ),
]


@pytest.fixture(scope="module")
def known(platform: Any) -> Known:
    _, request_id = post_referral(platform)
    with api.client(base_url=platform.fhir("referral"), timeout=30) as client:
        bundle = client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
        patient_ref = bundle["entry"][0]["resource"]["for"]["reference"]
    return Known(patient_ref.split("/")[1], bundle["entry"][0]["resource"]["id"])


@pytest.fixture
def client(platform: Any) -> Iterator[httpx.Client]:
    with api.client(base_url=platform.fhir("referral"), timeout=60) as one_connection:
        yield one_connection


def _local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_hostile_input_is_a_clear_4xx_and_the_connection_keeps_serving(
    platform: Any, known: Known, client: httpx.Client, row: Row
) -> None:
    before = stored_counts(platform)
    path = row.path.format(patient=known.patient_id, task=known.task_id)
    response = client.request(
        row.method,
        path,
        params=row.params,
        headers=row.headers,
        content=row.body() if row.body else None,
    )
    assert response.status_code == row.status, response.text[:500]
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error" and issue["diagnostics"]
    if row.expression:
        assert row.expression in issue.get("expression", []), issue
    if row.secret:
        assert row.secret not in response.text
    if row.rule:
        assert row.rule in issue["diagnostics"], issue
    assert stored_counts(platform) == before, "a refused request stored or staged something"
    metadata = client.get("/metadata")
    assert metadata.status_code == 200
    assert metadata.json()["resourceType"] == "CapabilityStatement"
    assert _local_port(metadata) == _local_port(response), "the connection was not kept"


def _unique_patient(client: httpx.Client) -> tuple[str, str]:
    """A Patient with a family name no other test uses; returns (id, a middle part of it)."""
    middle = uuid.uuid4().hex[:10]
    body = patient()
    body["name"][0]["family"] = f"Zz{middle}Qq"
    created = client.post("/Patient", json=body, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    return created.json()["id"], middle


def test_contains_and_missing_modifiers_are_honoured(client: httpx.Client) -> None:
    pid, middle = _unique_patient(client)
    contains = client.get("/Patient", params={"family:contains": middle}).json()
    assert [e["resource"]["id"] for e in contains["entry"]] == [pid]
    assert client.get("/Patient", params={"family": middle}).json()["total"] == 0
    with_family = {"family:contains": middle, "birthdate:missing": "false"}
    assert client.get("/Patient", params=with_family).json()["total"] == 1
    without = {"family:contains": middle, "birthdate:missing": "true"}
    assert client.get("/Patient", params=without).json()["total"] == 0


def test_lenient_handling_ignores_what_strict_refuses_and_says_so(client: httpx.Client) -> None:
    pid, middle = _unique_patient(client)
    params = [("family:contains", middle), ("nonsense", "1"), ("_include", "Patient:foo")]
    assert client.get("/Patient", params=params).status_code == 400
    response = client.get("/Patient", params=params, headers={"prefer": "handling=lenient"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    matches = [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert matches == [pid]
    outcome = next(e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome")
    assert {i["severity"] for i in outcome["issue"]} == {"warning"}
    assert {tuple(i["expression"]) for i in outcome["issue"]} == {("nonsense",), ("_include",)}
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "nonsense" not in self_link and "_include" not in self_link and middle in self_link


def test_summary_elements_total_pretty_and_json_formats_are_served(client: httpx.Client) -> None:
    pid, middle = _unique_patient(client)
    search = {"family:contains": middle}
    counted = client.get("/Patient", params={**search, "_summary": "count"}).json()
    assert counted["total"] == 1 and counted["entry"] == []
    trimmed = client.get("/Patient", params={**search, "_elements": "gender"}).json()
    resource = trimmed["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "gender"}
    assert "SUBSETTED" in [tag["code"] for tag in resource["meta"]["tag"]]
    pretty = client.get("/Patient", params={**search, "_pretty": "true", "_total": "accurate"})
    assert pretty.status_code == 200 and "\n  " in pretty.text
    for fmt in ("json", "application/json", "application/fhir+json", "application/json+fhir"):
        assert client.get(f"/Patient/{pid}", params={"_format": fmt}).status_code == 200
    for accept in ("*/*", "application/json", "application/fhir+json, application/fhir+xml"):
        assert client.get(f"/Patient/{pid}", headers={"accept": accept}).status_code == 200
