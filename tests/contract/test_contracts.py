"""The event contracts: asyncapi.yaml, its schemas and its examples agree with each other and
with DESIGN.md, every example is real FHIR R4, and poison messages are caught with a reason."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from jsonschema import Draft202012Validator

from painflow_shared.contracts import (
    CONTRACTS_URI,
    ContractViolation,
    EventContracts,
    default_contracts_dir,
)

CONTRACTS = default_contracts_dir()
EXAMPLES = sorted((CONTRACTS / "examples").glob("*.json"))
SCHEMAS = sorted((CONTRACTS / "schemas").glob("*.schema.json"))
DESIGN = CONTRACTS.parents[1] / "shared" / "DESIGN.md"

Mutation = Callable[[dict[str, str], dict[str, Any]], None]


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def example(event_type: str) -> dict[str, Any]:
    return load(CONTRACTS / "examples" / f"{event_type}.json")


def resolve(ref: str) -> Any:
    """Follow a `file#/json/pointer` reference of asyncapi.yaml."""
    path, _, pointer = ref.partition("#")
    node = load(CONTRACTS / path)
    for part in filter(None, pointer.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.fixture(scope="module")
def contracts() -> EventContracts:
    return EventContracts(CONTRACTS)


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text("utf-8"))


# ------------------------------------------------------------------ the examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_keeps_its_contract(contracts: EventContracts, path: Path) -> None:
    message = load(path)
    headers = message["headers"]

    contracts.validate(headers, message["value"])

    assert headers["ce_type"] == path.stem
    assert headers["ce_subject"] == f"Patient/{message['key']}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_bundle_parses_as_fhir_r4b(path: Path) -> None:
    value = load(path)["value"]

    bundle = Bundle.model_validate(value)

    assert bundle.type == "message"
    for entry in value["entry"]:
        resource_type = entry["resource"]["resourceType"]
        resource = get_fhir_model_class(resource_type).model_validate(entry["resource"])
        assert resource.get_resource_type() == resource_type


def test_every_event_type_has_one_example(contracts: EventContracts) -> None:
    assert {path.stem for path in EXAMPLES} == contracts.event_types()


# ------------------------------------------------------------------ asyncapi.yaml


def test_asyncapi_declares_the_local_broker(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["version"] == "1.0.0"
    assert asyncapi["servers"]["local"] == {
        **asyncapi["servers"]["local"],
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
    }


def test_every_message_has_its_schemas_and_an_example(asyncapi: dict[str, Any]) -> None:
    for name, message in asyncapi["components"]["messages"].items():
        assert isinstance(resolve(message["headers"]["schema"]["$ref"]), dict), name
        payload_ref = message["payload"]["schema"].get("$ref")
        if payload_ref:
            assert resolve(payload_ref)["$schema"].endswith("/2020-12/schema"), name
        assert message["examples"], name
        for shown in message["examples"]:
            for part in ("headers", "payload"):
                if "$ref" in shown.get(part, {}):
                    assert isinstance(resolve(shown[part]["$ref"]), dict), (name, part)


def test_every_topic_has_a_dead_letter_channel_and_a_sender(asyncapi: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    sent = {op["channel"]["$ref"] for op in asyncapi["operations"].values()}

    assert {f"{topic}.dlq" for topic in addresses if not topic.endswith(".dlq")} <= addresses
    assert sent == {f"#/channels/{name}" for name in asyncapi["channels"]}


def test_the_dead_letter_example_keeps_its_schema(asyncapi: dict[str, Any]) -> None:
    schema = load(CONTRACTS / "schemas" / "dead-letter-headers.schema.json")
    for shown in asyncapi["components"]["messages"]["deadLetter"]["examples"]:
        Draft202012Validator(schema).validate(shown["headers"])


def test_each_event_type_has_its_services_topic(contracts: EventContracts) -> None:
    for event_type in contracts.event_types():
        service = event_type.split(".")[1]
        assert contracts.topic_for(event_type) == f"painflow.{service}.v1"


def design_event_types() -> set[str]:
    """The event types that DESIGN.md section 3 lists, e.g. referral `received`, `accepted`."""
    text = DESIGN.read_text("utf-8").split("Event types (at least):", 1)[1]
    paragraph = text.split("\n\n", 1)[0]
    found, service = set(), ""
    pattern = r"\b(referral|assessment|scheduling|followup)\b|`([a-z-]+)`"
    for word, name in re.findall(pattern, paragraph):
        service = word or service
        if name:
            found.add(f"painflow.{service}.{name}")
    return found


@pytest.mark.skipif(not DESIGN.exists(), reason="shared/DESIGN.md is not beside the repository")
def test_every_event_type_of_the_design_is_declared(contracts: EventContracts) -> None:
    expected = design_event_types()

    assert len(expected) == 20
    assert expected <= contracts.event_types()


# ------------------------------------------------------------------ the schemas


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_schema_is_json_schema_2020_12_named_by_its_file(path: Path) -> None:
    schema = load(path)

    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{CONTRACTS_URI}schemas/{path.name}"


def test_every_allowed_resource_type_is_an_r4b_model() -> None:
    bundle = load(CONTRACTS / "schemas" / "message-bundle.schema.json")
    for resource_type in bundle["$defs"]["resource"]["properties"]["resourceType"]["enum"]:
        assert get_fhir_model_class(resource_type).__name__ == resource_type


# ------------------------------------------------------------------ poison messages


def is_a(entry: dict[str, Any], resource_type: str) -> bool:
    return entry["resource"]["resourceType"] == resource_type


def drop(resource_type: str) -> Mutation:
    def mutate(headers: dict[str, str], value: dict[str, Any]) -> None:
        value["entry"] = [entry for entry in value["entry"] if not is_a(entry, resource_type)]

    return mutate


def set_header(name: str, new: str) -> Mutation:
    def mutate(headers: dict[str, str], value: dict[str, Any]) -> None:
        headers[name] = new

    return mutate


def set_field(resource_type: str, field: str, new: Any) -> Mutation:
    def mutate(headers: dict[str, str], value: dict[str, Any]) -> None:
        for entry in value["entry"]:
            if is_a(entry, resource_type):
                entry["resource"][field] = new

    return mutate


def edit(resource_type: str, change: Callable[[dict[str, Any]], object]) -> Mutation:
    def mutate(headers: dict[str, str], value: dict[str, Any]) -> None:
        for entry in value["entry"]:
            if is_a(entry, resource_type):
                change(entry["resource"])

    return mutate


def swap_first_entries(headers: dict[str, str], value: dict[str, Any]) -> None:
    value["entry"][0], value["entry"][1] = value["entry"][1], value["entry"][0]


def focus_outside_bundle(headers: dict[str, str], value: dict[str, Any]) -> None:
    value["entry"][0]["resource"]["focus"].append({"reference": "Condition/not-in-bundle"})


def misname_entry(headers: dict[str, str], value: dict[str, Any]) -> None:
    value["entry"][1]["fullUrl"] += "-v2"


RECEIVED = "painflow.referral.received"
COMPLETED = "painflow.assessment.completed"
NEXT_STEP = "painflow.followup.next-step"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
POISON = [
    ("no-patient", RECEIVED, drop("Patient"), "value $.entry: must contain exactly one Patient"),
    (
        "ce_id-not-bundle-id",
        RECEIVED,
        set_header("ce_id", "0b8f2f4e-3c1a-4f7e-9d2b-5a6c7e8f9a01"),
        "value $.id: must equal the ce_id header",
    ),
    (
        "wrong-content-type",
        RECEIVED,
        set_header("content-type", "application/json"),
        "headers $['content-type']: expected const 'application/fhir+json'",
    ),
    (
        "unknown-ce_type",
        RECEIVED,
        set_header("ce_type", "painflow.referral.misplaced"),
        "headers $.ce_type: unknown event type 'painflow.referral.misplaced'",
    ),
    (
        "no-ce_type",
        RECEIVED,
        lambda headers, value: headers.pop("ce_type"),
        "headers $.ce_type: unknown event type None",
    ),
    ("bad-ce_time", RECEIVED, set_header("ce_time", "14 Sep 2026"), "headers $.ce_time"),
    (
        "accepted-task-not-accepted",
        "painflow.referral.accepted",
        set_field("Task", "status", "requested"),
        ".resource.status: expected const 'accepted'",
    ),
    (
        "redirected-routine",
        "painflow.referral.redirected",
        set_field("ServiceRequest", "priority", "routine"),
        ".resource.priority: expected enum",
    ),
    (
        "header-not-first",
        RECEIVED,
        swap_first_entries,
        "value $.entry[0].resource.resourceType: expected const 'MessageHeader'",
    ),
    (
        "unknown-resource-type",
        RECEIVED,
        set_field("Coverage", "resourceType", "Widget"),
        "must be a resource type that Painflow events carry",
    ),
    (
        "focus-outside-bundle",
        RECEIVED,
        focus_outside_bundle,
        "value $.entry[0].resource.focus[2]: must reference an entry of the Bundle",
    ),
    (
        "fullurl-not-the-resource",
        RECEIVED,
        misname_entry,
        "value $.entry[1].fullUrl: must end with /{resourceType}/{id}",
    ),
    (
        "subject-not-the-patient",
        RECEIVED,
        set_header("ce_subject", "Patient/someone-else"),
        "headers $.ce_subject: must name the Patient in the Bundle",
    ),
    (
        "completed-without-order",
        COMPLETED,
        drop("ServiceRequest"),
        "value $.entry: must contain at least one ServiceRequest entry",
    ),
    (
        "order-without-cpt",
        COMPLETED,
        edit("ServiceRequest", lambda r: r["code"]["coding"][0].update(system=SNOMED)),
        ".resource.code.coding: must carry a CPT coding",
    ),
    (
        "order-without-bleeding-risk",
        "painflow.assessment.procedure-ordered",
        edit("ServiceRequest", lambda r: r.update(extension=r["extension"][1:])),
        ".resource.extension: must carry the bleeding-risk extension",
    ),
    (
        "spinal-site-without-level",
        COMPLETED,
        edit("ServiceRequest", lambda r: r["bodySite"][0]["extension"].pop(0)),
        ".resource.bodySite[0].extension: a spinal bodySite must carry the spinal-level extension",
    ),
    (
        "not-candidate-deciding-procedure",
        "painflow.assessment.not-candidate",
        edit(
            "ClinicalImpression",
            lambda r: r["finding"][1]["itemCodeableConcept"]["coding"][0].update(code="procedure"),
        ),
        ".resource.finding: finding must carry the pathway decision",
    ),
    (
        "safety-review-not-stat",
        "painflow.assessment.safety-flag",
        set_field("Task", "priority", "routine"),
        ".resource.priority: expected const 'stat'",
    ),
    (
        "revoked-order-still-active",
        "painflow.assessment.order-revoked",
        set_field("ServiceRequest", "status", "active"),
        ".resource.status: expected enum",
    ),
    (
        "reschedule-without-taken-slot",
        "painflow.scheduling.appointment-rescheduled",
        set_field("Slot", "status", "free"),
        "value $.entry: must contain the Slot(s) the Appointment now takes",
    ),
    (
        "performed-without-patient",
        "painflow.scheduling.procedure-performed",
        drop("Patient"),
        "value $.entry: must contain exactly one Patient entry",
    ),
    (
        "outcome-without-procedure",
        "painflow.followup.outcome-recorded",
        edit("Observation", lambda r: r.pop("partOf")),
        "'partOf' is a required property",
    ),
    (
        "next-step-coded-in-cpt",
        NEXT_STEP,
        set_field("ServiceRequest", "code", {"coding": [{"system": CPT, "code": "64483"}]}),
        ".resource.code.coding: code must carry a next-step coding",
    ),
    (
        "next-step-as-order",
        NEXT_STEP,
        set_field("ServiceRequest", "intent", "order"),
        ".resource.intent: expected const 'proposal'",
    ),
    (
        "overdue-without-business-status",
        "painflow.followup.followup-overdue",
        edit("Task", lambda r: r.pop("businessStatus")),
        "'businessStatus' is a required property",
    ),
]


@pytest.mark.parametrize(
    ("event_type", "mutate", "reason"),
    [case[1:] for case in POISON],
    ids=[case[0] for case in POISON],
)
def test_a_poison_message_raises_a_violation_that_says_where(
    contracts: EventContracts, event_type: str, mutate: Mutation, reason: str
) -> None:
    message = copy.deepcopy(example(event_type))
    mutate(message["headers"], message["value"])

    with pytest.raises(ContractViolation) as raised:
        contracts.validate(message["headers"], message["value"])

    assert reason in raised.value.reason
    assert message["key"] not in raised.value.reason  # no patient data in a reason


def test_a_value_that_is_not_a_bundle_object_is_poison(contracts: EventContracts) -> None:
    message = example(RECEIVED)

    with pytest.raises(ContractViolation, match=r"value \$: expected type 'object'"):
        contracts.validate(message["headers"], [message["value"]])  # type: ignore[arg-type]
