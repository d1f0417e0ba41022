"""The compiled contract validators (jsonschema-rs) answer exactly as the Python ones do.

`EventContracts.validate` trusts the compiled validator when it accepts a message, so one that
accepted what `jsonschema` rejects would let a poison message through. These tests compare the
two on every example message and on mutants of them (a property dropped or added, a wrong type,
an emptied or shortened array, strings that the regex dialects read differently), and compare
the translated patterns with `re.search` on strings built to tell the dialects apart.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from painflow_shared.contract_fast import fast_is_valid, shared_pattern
from painflow_shared.contracts import ContractViolation, EventContracts, default_contracts_dir

CONTRACTS = default_contracts_dir()
EXAMPLES = sorted((CONTRACTS / "examples").glob("*.json"))
PATTERNS = sorted(
    {
        json.loads(quoted)
        for path in sorted((CONTRACTS / "schemas").glob("*.schema.json"))
        for quoted in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', path.read_text("utf-8"))
    }
)
# Characters on which Python's `re` and ECMA-262 / Rust regexes disagree, and their neighbours.
TRICKY = "\n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2007\u2028\u2029\u202f\u3000\ufeff\u200b"
DIGITS = "\u0663\u06f3\u0967\uff13\U0001d7d9"
WRONG_TYPES: tuple[Any, ...] = (None, "x", 7, 7.5, True, [], {})
CONTRACTS_UNDER_TEST = EventContracts(CONTRACTS)
MUTANTS_PER_EXAMPLE = 400

JsonPath = tuple[str | int, ...]


def python_valid(schema: Any, instance: object) -> bool:
    return next(iter(schema.python.iter_errors(instance)), None) is None


def schemas(event_type: str) -> tuple[Any, Any]:
    contract = CONTRACTS_UNDER_TEST._contracts[event_type]
    return contract.headers, contract.value


def agree(schema: Any, instance: object) -> None:
    assert schema.fast is not None
    assert fast_is_valid(schema.fast, instance) == python_valid(schema, instance)


def nodes(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from nodes(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from nodes(child, (*path, index))


def string_variants(text: str) -> list[str]:
    middle = len(text) // 2
    variants = ["", text + "\n", "\n" + text, text.upper(), text.lower(), text[:-1], text + "x"]
    variants += [text[:middle] + char + text[middle:] for char in TRICKY]
    variants += [re.sub(r"[0-9]", char, text, count=1) for char in DIGITS]
    return variants


def replacements(node: Any) -> list[Any]:
    """What a node may be replaced with: wrong types, and near misses of its own kind."""
    found = [value for value in WRONG_TYPES if type(value) is not type(node)]
    if isinstance(node, str):
        found += string_variants(node)
    elif isinstance(node, bool):
        found += [not node, int(node)]
    elif isinstance(node, int | float):
        found += [float(node), -node, node + 0.5, str(node)]
    elif isinstance(node, list) and node:
        found += [[], node[:-1], node[1:], [*node, node[0]], node[::-1]]
    elif isinstance(node, dict):
        found += [{**node, "zzExtra": 1}]
        found += [{k: v for k, v in node.items() if k != key} for key in node]
    return found


def mutants(instance: Any) -> Iterator[Any]:
    for path, node in nodes(instance):
        for replacement in replacements(node):
            yield replaced(instance, path, replacement)


def replaced(instance: Any, path: JsonPath, replacement: Any) -> Any:
    if not path:
        return replacement
    result = copy.copy(instance)
    result[path[0]] = replaced(instance[path[0]], path[1:], replacement)
    return result


def example(path: Path) -> tuple[str, dict[str, str], dict[str, Any]]:
    message = json.loads(path.read_text("utf-8"))
    return message["headers"]["ce_type"], message["headers"], message["value"]


def test_pattern_inventory_is_read() -> None:
    assert len(PATTERNS) > 20 and all(shared_pattern(pattern) != "$a" for pattern in PATTERNS)


def test_every_contract_is_compiled() -> None:
    assert all(CONTRACTS_UNDER_TEST.compiled(name) for name in CONTRACTS_UNDER_TEST.event_types())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_examples_pass_both(path: Path) -> None:
    event_type, headers, value = example(path)
    header_schema, value_schema = schemas(event_type)
    assert fast_is_valid(header_schema.fast, headers) and python_valid(header_schema, headers)
    assert fast_is_valid(value_schema.fast, value) and python_valid(value_schema, value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_header_mutants_agree(path: Path) -> None:
    event_type, headers, _ = example(path)
    header_schema, _ = schemas(event_type)
    for mutant in mutants(headers):
        agree(header_schema, mutant)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_value_mutants_agree(path: Path) -> None:
    """A fixed sample of each example's mutants (all of them would take minutes in Python)."""
    event_type, _, value = example(path)
    _, value_schema = schemas(event_type)
    every = list(mutants(value))
    sample = random.Random(path.stem).sample(every, min(MUTANTS_PER_EXAMPLE, len(every)))
    verdicts = [fast_is_valid(value_schema.fast, mutant) for mutant in sample]
    for mutant, fast in zip(sample, verdicts, strict=True):
        assert fast == python_valid(value_schema, mutant)
    assert not all(verdicts)  # the sample holds mutants the schema rejects


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_value_mutants_agree(data: st.DataObject) -> None:
    event_type, _, value = example(data.draw(st.sampled_from(EXAMPLES)))
    _, value_schema = schemas(event_type)
    path, node = data.draw(st.sampled_from(list(nodes(value))))
    agree(value_schema, replaced(value, path, data.draw(st.sampled_from(replacements(node)))))


def fast_search(pattern: str, text: str) -> bool:
    validator = jsonschema_rs.Draft202012Validator(
        {"pattern": shared_pattern(pattern)}, pattern_options=jsonschema_rs.RegexOptions()
    )
    return bool(validator.is_valid(text))


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_patterns_match_as_python_does(pattern: str, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(pattern))
    at = data.draw(st.integers(0, len(text)))
    inserted = data.draw(st.sampled_from(TRICKY + DIGITS + "x0-/."))
    for candidate in (text, text[:at] + inserted + text[at:], text[:at] + text[at + 1 :]):
        assert fast_search(pattern, candidate) == (re.search(pattern, candidate) is not None)


@pytest.mark.parametrize(
    ("pattern", "text", "python"),
    [
        (r"^\d{2}$", "\u0663\u0664", True),  # ECMA's \d is ASCII only
        (r"^a$", "a\n", True),  # Python's $ also matches before a final newline
        (r"^a$", "a\n\n", False),
        (r"^\S+$", "a\x1cb", False),  # Python's \s has U+001C-U+001F and U+0085...
        (r"^\S+$", "a\x85b", False),
        (r"^\S+$", "a\ufeffb", True),  # ...but not U+FEFF
        (r"^a.b$", "a\u2028b", True),  # Python's . stops only at \n
        (r"^a.b$", "a\nb", False),
    ],
)
def test_dialect_differences_are_translated(pattern: str, text: str, python: bool) -> None:
    assert (re.search(pattern, text) is not None) is python
    assert fast_search(pattern, text) is python


@pytest.mark.parametrize("pattern", [r"a(?=b)", r"\w+", r"[a[b]]", r"a{", r"(?i)a", r"[\d]"])
def test_untranslatable_patterns_leave_it_to_python(pattern: str) -> None:
    for text in ("", "a", "ab", "aB", "a{", "[a", "0"):
        assert not fast_search(pattern, text)


def test_values_the_compiled_validator_cannot_read_get_the_python_reason() -> None:
    event_type, headers, value = example(CONTRACTS / "examples" / "painflow.referral.received.json")
    broken = replaced(value, ("id",), "\ud800")  # a lone surrogate: not UTF-8
    _, value_schema = schemas(event_type)
    assert not fast_is_valid(value_schema.fast, broken)
    with pytest.raises(ContractViolation) as raised:
        CONTRACTS_UNDER_TEST.validate(headers, broken)
    uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    assert raised.value.reason == f"value $.id: expected pattern '^{uuid}$'"
