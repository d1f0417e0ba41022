"""Plan a transaction Bundle: give every entry an id, resolve ``urn:uuid:`` references.

Pure over the Bundle's JSON plus two look-ups the caller provides (conditional matches and
existence checks), so the plan is decided before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest, Issue, PreconditionFailed
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import is_relative, parse_relative, reference_string
from painflow_shared.fhir.search_params import identifier_query
from painflow_shared.fhir.versions import parse_if_match

ACCEPTED_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "ServiceRequest",
        "MedicationStatement",
        "AllergyIntolerance",
        "Coverage",
        "DocumentReference",
        "Practitioner",
        "PractitionerRole",
        "Organization",
    }
)

# (resource type, query) -> ids of existing resources that match
Matcher = Callable[[str, str], list[str]]


@dataclass
class PlannedEntry:
    index: int
    resource: dict[str, Any]
    method: str  # "create", "update" or "match" (an existing resource stands for it)
    id: str
    if_match: int | None = None  # Bundle.entry.request.ifMatch, for updates

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def reference(self) -> str:
        return reference_string(self.type, self.id)


@dataclass
class BundlePlan:
    entries: list[PlannedEntry] = field(default_factory=list)

    def of_type(self, resource_type: str) -> list[PlannedEntry]:
        return [e for e in self.entries if e.type == resource_type]


def plan_transaction(bundle: dict[str, Any], match: Matcher) -> BundlePlan:
    raw_entries = bundle.get("entry") or []
    if not raw_entries:
        raise InvalidRequest("the transaction has no entries", expression="Bundle.entry")
    plan, aliases = BundlePlan(), {}
    for index, entry in enumerate(raw_entries):
        planned = _plan_entry(index, entry, match)
        plan.entries.append(planned)
        for alias in _aliases(entry):
            aliases[alias] = planned.reference
    for planned in plan.entries:
        planned.resource = _rewrite_references(planned.resource, aliases)
        planned.resource["id"] = planned.id
    return plan


def _plan_entry(index: int, entry: dict[str, Any], match: Matcher) -> PlannedEntry:
    path = f"Bundle.entry[{index}]"
    resource, request = entry.get("resource"), entry.get("request") or {}
    if not isinstance(resource, dict):
        raise InvalidRequest("each entry needs a resource", expression=f"{path}.resource")
    if resource["resourceType"] not in ACCEPTED_TYPES:
        raise InvalidRequest(
            f"a referral transaction does not take {resource['resourceType']}; accepted: "
            f"{', '.join(sorted(ACCEPTED_TYPES))}",
            expression=f"{path}.resource.resourceType",
        )
    method = request.get("method")
    if method == "POST":
        return _plan_create(index, resource, request, match)
    if method == "PUT":
        return _plan_update(index, resource, request)
    raise InvalidRequest(
        "transaction entries must be POST or PUT", expression=f"{path}.request.method"
    )


def _plan_create(
    index: int, resource: dict[str, Any], request: dict[str, Any], match: Matcher
) -> PlannedEntry:
    query = request.get("ifNoneExist")
    if not query and resource["resourceType"] == "Patient":
        # the EHR's identifiers name one person here: any of them matches
        query = identifier_query(patient_identifiers(resource))
    if query:
        found = match(resource["resourceType"], query)
        if len(found) > 1:
            raise PreconditionFailed(
                f"the {resource['resourceType']}'s identifiers (or ifNoneExist) match "
                f"{len(found)} resources here",
                expression=f"Bundle.entry[{index}].request.ifNoneExist",
            )
        if found:
            return PlannedEntry(index, dict(resource), "match", found[0])
    return PlannedEntry(index, dict(resource), "create", new_id())


def _plan_update(index: int, resource: dict[str, Any], request: dict[str, Any]) -> PlannedEntry:
    url = str(request.get("url", ""))
    if not is_relative(url):
        raise InvalidRequest(
            "PUT needs url Type/id", expression=f"Bundle.entry[{index}].request.url"
        )
    rtype, rid = parse_relative(url)
    if rtype != resource["resourceType"] or resource.get("id") not in (None, rid):
        raise InvalidRequest(
            "the PUT url and the resource disagree", expression=f"Bundle.entry[{index}].request.url"
        )
    if_match = request.get("ifMatch")
    version = parse_if_match(if_match) if isinstance(if_match, str) else None
    return PlannedEntry(index, dict(resource), "update", rid, version)


def patient_identifiers(resource: dict[str, Any]) -> list[dict[str, str]]:
    """Identifiers with a system and a value (a value alone names nobody across systems)."""
    return [
        {"system": str(i["system"]), "value": str(i["value"])}
        for i in resource.get("identifier") or []
        if i.get("system") and i.get("value") and "," not in str(i["value"])
    ]


def _aliases(entry: dict[str, Any]) -> list[str]:
    """The names other entries may use for this one: its fullUrl, and Type/id under it."""
    full_url = str(entry.get("fullUrl") or "")
    resource = entry["resource"]
    names = [full_url] if full_url else []
    if full_url and not full_url.startswith("urn:"):
        names.append("/".join(full_url.rstrip("/").split("/")[-2:]))
    elif resource.get("id"):
        names.append(reference_string(resource["resourceType"], resource["id"]))
    return names


def _rewrite_references(node: Any, aliases: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite_references(item, aliases) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_references(value, aliases) for key, value in node.items()}
    ref = rewritten.get("reference")
    if isinstance(ref, str) and ref in aliases:
        rewritten["reference"] = aliases[ref]
    return rewritten


def unresolved_urns(plan: BundlePlan) -> list[Issue]:
    """``urn:uuid:`` references that name no entry: a transaction must be self-contained."""
    issues: list[Issue] = []
    for entry in plan.entries:
        for ref in _references(entry.resource):
            if ref.startswith("urn:"):
                issues.append(
                    Issue(
                        "a urn: reference names no entry of this transaction",
                        "not-found",
                        "error",
                        (f"Bundle.entry[{entry.index}].resource",),
                    )
                )
    return issues


def _references(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for item in node for r in _references(item)]
    if not isinstance(node, dict):
        return []
    found = [node["reference"]] if isinstance(node.get("reference"), str) else []
    return found + [r for value in node.values() for r in _references(value)]
