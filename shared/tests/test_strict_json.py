"""Strict JSON at the door: bounded nesting before parsing, no NUL, no duplicate keys."""

from __future__ import annotations

import json
import time

import pytest

from painflow_shared.fhir.errors import InvalidRequest
from painflow_shared.fhir.parse import parse_resource, read_json
from painflow_shared.fhir.patch import apply_json_patch, read_json_patch
from painflow_shared.fhir.strict_json import MAX_JSON_DEPTH, check_nesting, load_strict_json


def _nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def _objects(depth: int) -> bytes:
    return ('{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)).encode()


def test_the_limit_is_64_levels():
    assert MAX_JSON_DEPTH == 64
    check_nesting(_nested(64))
    check_nesting(_objects(64))
    with pytest.raises(InvalidRequest, match="nests deeper than 64 levels"):
        check_nesting(_nested(65))
    with pytest.raises(InvalidRequest, match="nests deeper than 64 levels"):
        check_nesting(_objects(65))


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_arrays_and_objects_are_a_400_not_a_recursion_error(depth):
    for raw in (_nested(depth), _objects(depth), b'{"a":' + _nested(depth) + b"}"):
        with pytest.raises(InvalidRequest, match="nests deeper"):
            read_json(raw)


def test_brackets_inside_strings_do_not_count():
    text = "[" * 500 + '\\"{' * 100
    data = read_json(json.dumps({"resourceType": "Patient", "note": text}).encode())
    assert data["note"] == text


def test_unbalanced_brackets_are_invalid_json_whatever_their_number():
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        read_json(b"[" * 100_000)
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        read_json(b'{"a": [1, 2}')


def test_a_large_flat_body_is_checked_quickly():
    raw = json.dumps({"resourceType": "Bundle", "entry": [{"a": [1, {"b": "x"}]}] * 50_000})
    started = time.perf_counter()
    check_nesting(raw.encode())
    assert time.perf_counter() - started < 2


def test_nul_in_a_string_is_refused_with_its_path():
    raw = b'{"resourceType":"Patient","name":[{"family":"Smi\\u0000th"}]}'
    with pytest.raises(InvalidRequest) as caught:
        read_json(raw)
    assert caught.value.issues[0].expression == ("Patient.name[0].family",)
    assert "Smi" not in caught.value.diagnostics


def test_an_escaped_backslash_before_u0000_is_not_a_nul():
    data = read_json(b'{"resourceType":"Patient","note":"C:\\\\u0000"}')
    assert data["note"] == "C:\\u0000"


def test_duplicate_keys_name_the_element_but_not_odd_keys():
    with pytest.raises(InvalidRequest, match="repeats the property 'gender'"):
        read_json(b'{"resourceType":"Patient","gender":"male","gender":"female"}')
    with pytest.raises(InvalidRequest) as caught:
        read_json(b'{"Jane Doe 1970":1,"Jane Doe 1970":2}')
    assert "Jane" not in caught.value.diagnostics


def test_json_errors_give_a_position_not_the_text():
    with pytest.raises(InvalidRequest) as caught:
        load_strict_json(b'{"family": Smith}')
    assert "Smith" not in caught.value.diagnostics and "line 1" in caught.value.diagnostics


def test_a_json_patch_is_held_to_the_same_rules():
    content_type = "application/json-patch+json"
    with pytest.raises(InvalidRequest, match="nests deeper"):
        read_json_patch(
            content_type, b'[{"op":"add","path":"/note","value":' + _nested(500) + b"}]"
        )
    with pytest.raises(InvalidRequest, match="NUL"):
        read_json_patch(content_type, b'[{"op":"add","path":"/note","value":"\\u0000"}]')


def test_extensions_nested_within_the_limit_still_parse():
    extension: dict = {"url": "http://painflow.test/e", "valueString": "x"}
    for _ in range(30):  # 61 levels of JSON
        extension = {"url": "http://painflow.test/e", "extension": [extension]}
    body = json.dumps({"resourceType": "Patient", "extension": [extension]}).encode()
    parse_resource(read_json(body))


def test_patch_array_indexes_are_ascii_and_bounded():
    task = {"resourceType": "Task", "note": [{"text": "a"}]}
    assert apply_json_patch(
        task, [{"op": "replace", "path": "/note/0/text", "value": "b"}], allowed=("note",)
    )["note"] == [{"text": "b"}]
    for index in ("²", "\u0661", "01", "1", "99999999999999999999999", "-1"):
        operation = {"op": "replace", "path": f"/note/{index}/text", "value": "b"}
        with pytest.raises(InvalidRequest) as caught:
            apply_json_patch(task, [operation], allowed=("note",))
        expected = "Task.note[1].text" if index == "1" else "Task.note"
        assert caught.value.issues[0].expression == (expected,)
        assert index not in caught.value.diagnostics.replace("0 to 0", "")


@pytest.mark.parametrize(
    "raw",
    [b'"' + b'\\"' * 1_000_000, b'"' * 2_000_000, b'["' * 1_000_000],
    ids=["escaped quotes", "quotes", "opened strings"],
)
def test_hostile_quoting_is_refused_in_linear_time(raw):
    started = time.perf_counter()
    with pytest.raises(InvalidRequest):
        load_strict_json(raw)
    assert time.perf_counter() - started < 2


def test_a_long_run_of_escaped_backslashes_is_read_quickly():
    raw = b'{"note":"' + b"\\\\" * 1_000_000 + b'"}'
    started = time.perf_counter()
    assert load_strict_json(raw)["note"] == "\\" * 1_000_000
    assert time.perf_counter() - started < 2
