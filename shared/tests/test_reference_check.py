"""Referential integrity of a write: the walker and the checker over a fake store look-up.

The one-query look-up against the real store is tested at the end, on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from painflow_shared.fhir.reference_check import (
    Key,
    ReferenceRules,
    Written,
    reference_issues,
    stored_keys,
)
from painflow_shared.fhir.reference_sites import reference_sites
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.fhir.store import ResourceStore

STORED = {("Patient", "p1"), ("Practitioner", "dr"), ("Condition", "c1"), ("Organization", "o1")}


class FakeStore:
    def __init__(self, stored: set[Key] = STORED) -> None:
        self.stored, self.queries = stored, []  # type: list[set[Key]]

    def __call__(self, keys: set[Key]) -> set[Key]:
        self.queries.append(set(keys))
        return keys & self.stored


def referral(**changes: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "requester": {"reference": "Practitioner/dr"},
        "reasonReference": [{"reference": "Condition/c1"}],
    }
    return {**resource, **changes}


def check(*resources: dict[str, Any], known: set[Key] | None = None, **rules: Any):  # type: ignore[no-untyped-def]
    store = FakeStore()
    written = [Written(f"Bundle.entry[{i}].resource", r) for i, r in enumerate(resources)]
    keys = known if known is not None else {(r["resourceType"], r["id"]) for r in resources}
    issues = reference_issues(written, keys, store, ReferenceRules(**rules))
    return issues, store


def only(issues):  # type: ignore[no-untyped-def]
    assert len(issues) == 1, issues
    return issues[0]


def test_the_walker_finds_every_reference_with_its_element_and_allowed_types():
    resource = referral(
        contained=[{"resourceType": "Condition", "id": "c", "subject": {"reference": "#"}}],
        extension=[{"url": "http://x", "valueReference": {"reference": "Basic/b"}}],
        note=[{"authorReference": {"reference": "Practitioner/dr"}, "text": "x"}],
    )
    sites = {s.path: s for s in reference_sites(resource, "ServiceRequest")}
    assert sites["ServiceRequest.requester"].allowed[:2] == ("Practitioner", "PractitionerRole")
    assert sites["ServiceRequest.reasonReference[0]"].element == "ServiceRequest.reasonReference"
    assert sites["ServiceRequest.contained[0].subject"].allowed == ("Patient", "Group")
    assert sites["ServiceRequest.extension[0].valueReference"].allowed == ()  # any resource
    assert "ServiceRequest.note[0].authorReference" in sites
    assert len(sites) == 6


def test_a_valid_write_has_no_issue_and_costs_one_look_up():
    issues, store = check(referral())
    assert issues == []
    assert store.queries == [{("Patient", "p1"), ("Practitioner", "dr"), ("Condition", "c1")}]


def test_references_to_entries_of_the_same_request_are_not_looked_up():
    patient = {"resourceType": "Patient", "id": "new"}
    issues, store = check(patient, referral(subject={"reference": "Patient/new"}))
    assert issues == []
    assert ("Patient", "new") not in store.queries[0]


def test_a_reference_to_nothing_names_the_element_and_the_type_only():
    issue = only(check(referral(requester={"reference": "Practitioner/nope"}))[0])
    assert issue.expression == ("Bundle.entry[0].resource.requester",)
    assert issue.code == "not-found"
    assert "ServiceRequest.requester does not resolve" in issue.diagnostics
    assert "nope" not in issue.diagnostics


def test_a_target_of_the_wrong_type_lists_the_allowed_types():
    issue = only(check(referral(reasonReference=[{"reference": "Patient/p1"}]))[0])
    assert issue.expression == ("Bundle.entry[0].resource.reasonReference[0]",)
    assert "must reference one of: Condition, Observation, DiagnosticReport" in issue.diagnostics


def test_an_element_may_be_narrowed_and_kept_local():
    rules = {
        "narrowed": {"ServiceRequest.subject": ("Patient",)},
        "local_only": frozenset({"ServiceRequest.subject"}),
        "is_trusted": lambda url: True,
    }
    issue = only(check(referral(subject={"reference": "Group/g"}), **rules)[0])
    assert "must reference one of: Patient" in issue.diagnostics
    remote = {"reference": "https://ehr.example.org/fhir/Patient/1"}
    issue = only(check(referral(subject=remote), **rules)[0])
    assert "must name a Patient in this request or on this server" in issue.diagnostics


@pytest.mark.parametrize(
    "reference",
    [{"identifier": {"system": "urn:x", "value": "1"}}, {"display": "Dr Who"}, {"reference": "#"}],
)
def test_references_without_a_target_here_are_allowed(reference):
    issues, _ = check(referral(requester=reference))
    assert issues == []


def test_a_contained_reference_must_name_a_contained_resource():
    condition = {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p1"}}
    ok = referral(contained=[condition], reasonReference=[{"reference": "#c"}])
    assert check(ok)[0] == []
    issue = only(check({**ok, "reasonReference": [{"reference": "#other"}]})[0])
    assert "no contained resource has that id" in issue.diagnostics


def test_absolute_references_stay_only_under_trusted_bases_and_are_never_looked_up():
    url = "https://ehr.example.org/fhir/Practitioner/7"
    trusted = lambda u: u.startswith("https://ehr.example.org/fhir/")  # noqa: E731
    issues, store = check(referral(requester={"reference": url}), is_trusted=trusted)
    assert issues == [] and ("Practitioner", "7") not in store.queries[0]
    issue = only(check(referral(requester={"reference": url}))[0])
    assert "not a trusted FHIR base" in issue.diagnostics and url not in issue.diagnostics


@pytest.mark.parametrize(
    "reference", ["urn:uuid:5f1c0d0e-0000-4000-8000-000000000000", "Patient?identifier=x|1", "x"]
)
def test_references_that_cannot_resolve_here_are_refused(reference):
    issue = only(check(referral(requester={"reference": reference}))[0])
    assert issue.expression == ("Bundle.entry[0].resource.requester",)


def test_a_resource_must_not_reference_itself():
    organization = {
        "resourceType": "Organization",
        "id": "o2",
        "partOf": {"reference": "Organization/o2"},
    }
    issue = only(check(organization)[0])
    assert "must not reference the resource itself" in issue.diagnostics


def test_a_part_of_cycle_among_the_written_resources_is_refused():
    a = {"resourceType": "Organization", "id": "a", "partOf": {"reference": "Organization/b"}}
    b = {"resourceType": "Organization", "id": "b", "partOf": {"reference": "Organization/c"}}
    c = {"resourceType": "Organization", "id": "c", "partOf": {"reference": "Organization/a"}}
    issue = only(check(a, b, c)[0])
    assert "Organization.partOf makes a cycle" in issue.diagnostics
    assert check(a, b, {**c, "partOf": {"reference": "Organization/o1"}})[0] == []


def test_a_long_part_of_chain_is_no_cycle_and_no_recursion_error():
    chain = [
        {
            "resourceType": "Organization",
            "id": f"o{i}",
            "partOf": {"reference": f"Organization/o{i + 1}"},
        }
        for i in range(2, 3000)
    ]
    chain.append({"resourceType": "Organization", "id": "o3000"})
    assert check(*chain)[0] == []


def test_too_many_distinct_stored_targets_are_refused_before_the_look_up():
    notes = [
        {"authorReference": {"reference": f"Practitioner/p{i}"}, "text": "x"} for i in range(5001)
    ]
    issues, store = check(referral(note=notes))
    assert issues[0].code == "too-costly" and store.queries == []


@pytest.mark.integration
def test_the_store_look_up_is_one_query_and_ignores_deleted_resources(pg_engine: Engine):
    with Session(pg_engine) as session:
        store = ResourceStore(session, SearchParamRegistry({}))
        store.create({"resourceType": "Patient"}, resource_id="p1")
        store.create({"resourceType": "Practitioner"}, resource_id="gone")
        store.delete("Practitioner", "gone")
        session.flush()
        found = stored_keys(session)(
            {("Patient", "p1"), ("Practitioner", "gone"), ("Patient", "x")}
        )
    assert found == {("Patient", "p1")}


def test_an_absolute_reference_under_a_local_base_is_the_relative_one():
    from painflow_shared.fhir.references import local_reference

    bases = ("http://127.0.0.1:8001/fhir", "http://127.0.0.1:8002/fhir/")
    assert local_reference("http://127.0.0.1:8001/fhir/Patient/p1", bases) == "Patient/p1"
    assert local_reference("http://127.0.0.1:8002/fhir/Task/t1", bases) == "Task/t1"
    assert local_reference("https://ehr.example.org/fhir/Patient/p1", bases) == (
        "https://ehr.example.org/fhir/Patient/p1"
    )
    assert local_reference("Patient/p1", bases) == "Patient/p1"
