"""The event contracts in contracts/: which event types exist, on which topic, and whether a
message keeps its type's contract.

Producers' tests validate what they emit; consumers validate what they receive and send a
message that fails to the dead-letter topic (a poison message). A reason names where the
message went wrong and what the contract wanted; the only value it ever quotes is an unknown
ce_type, so it can go in logs and DLQ headers without carrying patient data.

A message is first checked by a compiled validator (jsonschema-rs, `contract_fast`) that
answers as the Python one does; only a message it rejects goes through `jsonschema`, which
says why. A contract it could not compile keeps the Python validator alone (`fast` is None).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from painflow_shared.contract_fast import compile_fast, fast_is_valid, fast_registry

# The schemas' $id prefix; the $refs in asyncapi.yaml resolve against it as they do on disk.
CONTRACTS_URI = "https://painflow.dev/contracts/"
_REASON_LIMIT = 200
# Keywords that say nothing useful on their own: the schema's description says what they want.
_ABOUT_ITEMS = frozenset({"contains", "minContains", "maxContains"})


class ContractViolation(Exception):
    """A message that does not keep its contract; `reason` says where, without patient data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def default_contracts_dir() -> Path:
    """contracts/ beside shared/ in a source checkout (``PAINFLOW_CONTRACTS_DIR`` overrides)."""
    return Path(__file__).resolve().parents[2] / "contracts"


@dataclass(frozen=True)
class _Schema:
    """One schema: the Python validator says why; the compiled one, when there is one, is fast."""

    python: Draft202012Validator
    fast: jsonschema_rs.Validator | None


@dataclass(frozen=True)
class _Contract:
    topic: str
    headers: _Schema
    value: _Schema


class EventContracts:
    """Every event type of asyncapi.yaml with its compiled header and value schemas."""

    def __init__(self, contracts_dir: Path) -> None:
        document = yaml.safe_load((contracts_dir / "asyncapi.yaml").read_text("utf-8"))
        schemas = _schema_documents(contracts_dir / "schemas")
        registries = (_schema_registry(schemas), fast_registry(schemas))
        self._contracts = {
            message["name"]: _Contract(
                topic=topic,
                headers=_validator(message["headers"], *registries),
                value=_validator(message["payload"], *registries),
            )
            for topic, message in _event_messages(document)
        }

    def compiled(self, event_type: str) -> bool:
        """Whether both of the type's schemas have the compiled fast path."""
        contract = self._contract(event_type)
        return contract.headers.fast is not None and contract.value.fast is not None

    def event_types(self) -> set[str]:
        return set(self._contracts)

    def topic_for(self, event_type: str) -> str:
        return self._contract(event_type).topic

    def validate(self, headers: Mapping[str, str], value: dict[str, Any]) -> None:
        """Raise ContractViolation unless the message keeps the contract of its ce_type."""
        contract = self._contract(headers.get("ce_type"))
        _check(contract.headers, dict(headers), "headers")
        _check(contract.value, value, "value")
        for reason in _inconsistencies(headers, value):
            raise ContractViolation(reason)

    def _contract(self, event_type: str | None) -> _Contract:
        contract = self._contracts.get(event_type or "")
        if contract is None:
            raise ContractViolation(
                f"headers $.ce_type: unknown event type {_shorten(repr(event_type))}"
            )
        return contract


def _schema_documents(schemas_dir: Path) -> list[tuple[str, Any]]:
    """(uri, schema) for every schema file, under the URI its $refs resolve against."""
    return [
        (f"{CONTRACTS_URI}schemas/{path.name}", json.loads(path.read_text("utf-8")))
        for path in sorted(schemas_dir.glob("*.schema.json"))
    ]


def _schema_registry(schemas: list[tuple[str, Any]]) -> Registry:
    resources = [(uri, Resource.from_contents(contents)) for uri, contents in schemas]
    return Registry().with_resources(resources)


def _event_messages(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic, message) for every event message; dead-letter channels carry no event type."""
    messages = document["components"]["messages"]
    for channel in document["channels"].values():
        if channel["address"].endswith(".dlq"):
            continue
        for link in channel["messages"].values():
            yield channel["address"], messages[link["$ref"].rsplit("/", 1)[-1]]


def _validator(
    schema_object: dict[str, Any], registry: Registry, fast: jsonschema_rs.Registry | None
) -> _Schema:
    """Validators for the schema that an AsyncAPI (multi-format) schema object references."""
    uri = urljoin(f"{CONTRACTS_URI}asyncapi.yaml", schema_object["schema"]["$ref"])
    return _Schema(
        python=Draft202012Validator({"$ref": uri}, registry=registry),
        fast=compile_fast({"$ref": uri}, fast),
    )


def _check(schema: _Schema, instance: object, part: str) -> None:
    if schema.fast is not None and fast_is_valid(schema.fast, instance):
        return
    error = best_match(schema.python.iter_errors(instance))
    if error is not None:
        raise ContractViolation(f"{part} {error.json_path}: {_expected(error)}")


def _expected(error: ValidationError) -> str:
    """What the schema wanted: the failed keyword, or the schema's description when shorter."""
    if error.validator == "required":
        return str(error.message)  # names the missing property, which comes from the schema
    wanted = f"expected {error.validator} {error.validator_value!r}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description and (error.validator in _ABOUT_ITEMS or len(wanted) > _REASON_LIMIT):
        return str(description)
    return _shorten(wanted)


def _shorten(text: str) -> str:
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 3] + "..."


def _inconsistencies(headers: Mapping[str, str], value: dict[str, Any]) -> Iterator[str]:
    """What one schema cannot see: headers against the Bundle, entries against each other."""
    header = value["entry"][0]["resource"]
    if value["id"] != headers["ce_id"]:
        yield "value $.id: must equal the ce_id header"
    if header["eventCoding"]["code"] != headers["ce_type"]:
        yield "value $.entry[0].resource.eventCoding.code: must equal the ce_type header"
    yield from _misnamed_entries(value["entry"])
    yield from _unresolved_focus(value["entry"])
    yield from _subject_not_in_bundle(headers["ce_subject"], value["entry"])


def _misnamed_entries(entries: list[dict[str, Any]]) -> Iterator[str]:
    for index, entry in enumerate(entries):
        resource = entry["resource"]
        if not entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}"):
            yield f"value $.entry[{index}].fullUrl: must end with /{{resourceType}}/{{id}}"


def _unresolved_focus(entries: list[dict[str, Any]]) -> Iterator[str]:
    """Each MessageHeader.focus must be in the Bundle: relative ones from the header's base."""
    header = entries[0]
    base = header["fullUrl"].removesuffix(f"/MessageHeader/{header['resource']['id']}")
    full_urls = {entry["fullUrl"] for entry in entries}
    for index, focus in enumerate(header["resource"]["focus"]):
        reference = focus["reference"]
        if reference not in full_urls and f"{base}/{reference}" not in full_urls:
            yield f"value $.entry[0].resource.focus[{index}]: must reference an entry of the Bundle"


def _subject_not_in_bundle(subject: str, entries: list[dict[str, Any]]) -> Iterator[str]:
    """A Bundle that carries the Patient must carry the one the event is about."""
    patients = {
        f"Patient/{entry['resource']['id']}"
        for entry in entries
        if entry["resource"]["resourceType"] == "Patient"
    }
    if patients and subject not in patients:
        yield "headers $.ce_subject: must name the Patient in the Bundle"
