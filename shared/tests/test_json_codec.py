"""orjson where it agrees with the standard library, ``json`` where it does not."""

from __future__ import annotations

import json

import pytest

from painflow_shared import json_codec


def test_round_trip_of_a_resource() -> None:
    resource = {"resourceType": "Observation", "valueQuantity": {"value": 7.5}, "note": "café"}
    assert json_codec.loads(json_codec.dumps(resource)) == resource
    assert json_codec.dumps(resource) == json.dumps(
        resource, separators=(",", ":"), ensure_ascii=False
    )


def test_an_integer_past_64_bits_keeps_every_digit_both_ways() -> None:
    big = 123456789012345678901234567890
    assert json_codec.loads('{"value": 123456789012345678901234567890}') == {"value": big}
    assert json_codec.loads(b'{"value": 123456789012345678901234567890}') == {"value": big}
    assert json_codec.dumps({"value": big}) == '{"value":123456789012345678901234567890}'


def test_non_string_keys_are_written_as_json_writes_them() -> None:
    assert json_codec.dumps({1: "a"}) == '{"1":"a"}'


@pytest.mark.parametrize("text", [b"{", b'{"a": NaN}', b"[1,]", b""])
def test_bad_json_raises_json_decode_error(text: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        json_codec.loads(text)


def test_bad_utf8_raises_unicode_decode_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        json_codec.loads(b'{"a": "\xff"}')
