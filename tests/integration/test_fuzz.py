"""Fuzzing the referral service's FHIR door over real HTTP: no input ever gets a 5xx.

Hypothesis mutates valid referral transactions (a value replaced, removed or added anywhere in
the tree), writes random bodies to every type endpoint, and sends random searches and JSON
Patches. Every answer must be below 500, every refusal an OperationOutcome, and the keep-alive
connection must keep working. Bounded: ``PAINFLOW_FUZZ_EXAMPLES`` examples per test (default
60), derandomized so that CI runs the same inputs every time; raise it locally to search more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from painflow_shared.testing.factories import referral_bundle

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PAINFLOW_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TYPES = ["Patient", "Condition", "ServiceRequest", "Task", "Coverage", "Observation", "Nope"]

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["", "²", "٣", "\u0000", "x" * 600, "1e309", "-1", "2026-13-45", "urn:uuid:"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | text
)
keys = text | st.sampled_from(["reference", "resourceType", "id", "extension", "coding"])
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            text | st.sampled_from(["reference", "resourceType", "id"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(bundle: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> None:
    parent: Any = bundle
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "remove":
        del parent[last]
    elif action == "add" and isinstance(parent[last], dict):
        parent[last][str(value)[:20] if not isinstance(value, str) else value] = value
    elif action == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    else:
        parent[last] = value


def _assert_answered(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert body["resourceType"] == "OperationOutcome", what
        assert body["issue"], what


@pytest.fixture(scope="module")
def client(platform: Any) -> Iterator[httpx.Client]:
    with api.client(base_url=platform.fhir("referral"), timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def task_id(platform: Any) -> str:
    _, service_request_id = post_referral(platform)
    found = api.get(
        f"{platform.fhir('referral')}/Task",
        params={"focus": f"ServiceRequest/{service_request_id}"},
    ).json()
    return str(found["entry"][0]["resource"]["id"])


def _metadata_still_answers(client: httpx.Client) -> None:
    assert client.get("/metadata").status_code == 200, "the connection broke after that input"


@FUZZ
@given(data=st.data(), action=st.sampled_from(["replace", "remove", "add"]), value=json_values)
def test_a_mutated_referral_transaction_never_gets_a_5xx(
    client: httpx.Client, data: st.DataObject, action: str, value: Any
) -> None:
    bundle = referral_bundle()
    paths = [p for p in _paths(bundle) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    _mutate(bundle, path, action, value)
    response = client.post("", content=json.dumps(bundle), headers=FHIR_JSON)
    _assert_answered(response, f"{action} at {path}")
    _metadata_still_answers(client)


@FUZZ
@given(resource_type=st.sampled_from(TYPES), body=json_values, raw=st.binary(max_size=64))
def test_random_bodies_at_every_type_endpoint_never_get_a_5xx(
    client: httpx.Client, resource_type: str, body: Any, raw: bytes
) -> None:
    as_resource = body if not isinstance(body, dict) else {"resourceType": resource_type, **body}
    for content in (json.dumps(as_resource).encode(), raw):
        response = client.post(f"/{resource_type}", content=content, headers=FHIR_JSON)
        _assert_answered(response, f"POST {resource_type}")
        response = client.put(f"/{resource_type}/x1", content=content, headers=FHIR_JSON)
        _assert_answered(response, f"PUT {resource_type}")
    _metadata_still_answers(client)


search_names = (
    st.sampled_from(
        [
            "family",
            "identifier",
            "birthdate",
            "patient",
            "status",
            "authored",
            "_count",
            "_offset",
            "_include",
            "_sort",
            "_format",
            "_summary",
            "_elements",
            "focus",
            "_lastUpdated",
            "_id",
        ]
    )
    | text
)
modifiers = st.sampled_from(["", ":exact", ":contains", ":missing", ":not", ":bogus"])


@FUZZ
@given(
    resource_type=st.sampled_from(TYPES),
    params=st.lists(st.tuples(search_names, modifiers, text), max_size=4),
)
def test_random_searches_never_get_a_5xx(
    client: httpx.Client, resource_type: str, params: list[tuple[str, str, str]]
) -> None:
    query = [(f"{name}{modifier}", value) for name, modifier, value in params]
    response = client.get(f"/{resource_type}", params=query)
    _assert_answered(response, f"search {resource_type} {len(query)} params")
    _metadata_still_answers(client)


patch_ops = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["add", "remove", "replace", "test", "move", "copy", "bogus"]),
        "path": st.sampled_from(["/status", "/note/0/text", "/note/²/text", "/owner", "/-", "/"])
        | text,
        "value": json_values,
    }
)


@FUZZ
@given(operations=st.lists(patch_ops, max_size=3) | json_values)
def test_random_json_patches_of_a_task_never_get_a_5xx(
    client: httpx.Client, task_id: str, operations: Any
) -> None:
    response = client.patch(
        f"/Task/{task_id}",
        content=json.dumps(operations),
        headers={"content-type": "application/json-patch+json"},
    )
    _assert_answered(response, "PATCH Task")
    _metadata_still_answers(client)
