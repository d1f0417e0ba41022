"""The event envelope: CloudEvents 1.0 binary-mode headers around a FHIR ``message`` Bundle.

Kafka key = the Patient's logical id; value = the Bundle (``Bundle.id`` = ``ce_id``) whose first
entry is a MessageHeader naming the event type and its focus, followed by every resource a
consumer needs to act without calling back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from painflow_shared import json_codec
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.media import FHIR_JSON
from painflow_shared.fhir.references import reference_to

EVENT_TYPE_SYSTEM = "https://painflow.dev/fhir/CodeSystem/event-type"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time")


class PoisonMessage(ValueError):
    """A record no consumer can ever handle: it goes to the DLQ, and the partition moves on."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    subject: str
    time: str
    key: str
    bundle: dict[str, Any]
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def patient_id(self) -> str:
        return self.key

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return [
            e["resource"]
            for e in self.bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") == resource_type
        ]

    def first(self, resource_type: str) -> dict[str, Any] | None:
        found = self.resources(resource_type)
        return found[0] if found else None

    def headers(self) -> dict[str, str]:
        return {
            "ce_specversion": "1.0",
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_subject": self.subject,
            "ce_time": self.time,
            "content-type": FHIR_JSON,
            **self.extra_headers,
        }

    def value(self) -> bytes:
        return json_codec.dumps_bytes(self.bundle)


def build_event(
    *,
    event_type: str,
    service: str,
    base_url: str,
    patient_id: str,
    focus: list[dict[str, Any]],
    include: list[dict[str, Any]],
) -> Envelope:
    """A message Bundle for ``event_type`` whose MessageHeader focuses on ``focus``."""
    event_id = new_id()
    now = fhir_instant()
    header = {
        "resourceType": "MessageHeader",
        "id": new_id(),
        "eventCoding": {"system": EVENT_TYPE_SYSTEM, "code": event_type},
        "source": {"name": f"painflow-{service}", "endpoint": f"urn:painflow:{service}"},
        "focus": [reference_to(r) for r in focus],
    }
    entries = [{"fullUrl": f"{base_url}/MessageHeader/{header['id']}", "resource": header}]
    seen: set[tuple[str, str]] = set()
    for resource in [*focus, *include]:
        ident = (resource["resourceType"], resource["id"])
        if ident not in seen:
            seen.add(ident)
            entries.append({"fullUrl": f"{base_url}/{ident[0]}/{ident[1]}", "resource": resource})
    bundle = {
        "resourceType": "Bundle",
        "id": event_id,
        "type": "message",
        "timestamp": now,
        "entry": entries,
    }
    return Envelope(
        id=event_id,
        type=event_type,
        source=f"/painflow/{service}",
        subject=f"Patient/{patient_id}",
        time=now,
        key=patient_id,
        bundle=bundle,
    )


def decode_headers(raw: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw or []:
        try:
            headers[name] = (value or b"").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PoisonMessage(f"header {name} is not UTF-8") from exc
    return headers


def parse_record(
    key: bytes | None, value: bytes | None, raw_headers: list[tuple[str, bytes | None]] | None
) -> Envelope:
    """Read a Kafka record back into an Envelope, or raise PoisonMessage saying why not."""
    headers = decode_headers(raw_headers)
    missing = [h for h in REQUIRED_HEADERS if not headers.get(h)]
    if missing:
        raise PoisonMessage(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers["ce_specversion"] != "1.0":
        raise PoisonMessage("ce_specversion must be 1.0")
    try:
        bundle = json_codec.loads(value or b"")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"value is not JSON: {exc}") from exc
    _check_bundle(bundle, headers)
    known = set(REQUIRED_HEADERS) | {"content-type"}
    return Envelope(
        id=headers["ce_id"],
        type=headers["ce_type"],
        source=headers["ce_source"],
        subject=headers["ce_subject"],
        time=headers["ce_time"],
        key=(key or b"").decode("utf-8", "replace"),
        bundle=bundle,
        extra_headers={k: v for k, v in headers.items() if k not in known},
    )


def _check_bundle(bundle: Any, headers: dict[str, str]) -> None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise PoisonMessage("value is not a FHIR Bundle")
    if bundle.get("type") != "message" or bundle.get("id") != headers["ce_id"]:
        raise PoisonMessage("value must be a message Bundle whose id is ce_id")
    entries = bundle.get("entry") or []
    first = entries[0].get("resource", {}) if entries and isinstance(entries[0], dict) else {}
    if first.get("resourceType") != "MessageHeader":
        raise PoisonMessage("the first entry of a message Bundle must be a MessageHeader")
    if (first.get("eventCoding") or {}).get("code") != headers["ce_type"]:
        raise PoisonMessage("MessageHeader.eventCoding.code must equal ce_type")
