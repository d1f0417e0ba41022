"""Planning a transaction: ids, urn:uuid resolution, conditional create."""

from __future__ import annotations

import pytest

from painflow_referral.bundle_plan import plan_transaction, unresolved_urns
from painflow_shared.fhir.errors import InvalidRequest, PreconditionFailed
from painflow_shared.testing.factories import referral_bundle, transaction


def no_matches(resource_type, query):
    return []


def test_urn_references_are_rewritten_to_the_new_ids():
    plan = plan_transaction(referral_bundle(), no_matches)
    patient, condition, request = plan.entries
    assert request.resource["subject"] == {"reference": patient.reference}
    assert request.resource["reasonReference"] == [{"reference": condition.reference}]
    assert condition.resource["subject"] == {"reference": patient.reference}
    assert all(e.method == "create" for e in plan.entries)
    assert unresolved_urns(plan) == []


def test_a_known_patient_identifier_matches_the_existing_patient():
    plan = plan_transaction(referral_bundle(), lambda t, q: ["existing"] if t == "Patient" else [])
    assert plan.entries[0].method == "match" and plan.entries[0].id == "existing"
    assert plan.entries[2].resource["subject"] == {"reference": "Patient/existing"}


def test_if_none_exist_matching_two_resources_is_a_412():
    bundle = referral_bundle()
    bundle["entry"][1]["request"]["ifNoneExist"] = "identifier=a|b"
    with pytest.raises(PreconditionFailed):
        plan_transaction(bundle, lambda t, q: ["x", "y"] if t == "Condition" else [])


def test_unresolvable_urn_is_reported():
    bundle = referral_bundle()
    bundle["entry"][2]["resource"]["subject"] = {"reference": "urn:uuid:0000"}
    assert unresolved_urns(plan_transaction(bundle, no_matches))[0].expression == (
        "Bundle.entry[2].resource",
    )


def test_only_post_and_put_and_referral_types_are_taken():
    bundle = referral_bundle()
    bundle["entry"][0]["request"]["method"] = "DELETE"
    with pytest.raises(InvalidRequest, match="POST or PUT"):
        plan_transaction(bundle, no_matches)
    with pytest.raises(InvalidRequest, match="does not take Observation"):
        plan_transaction(transaction([("urn:uuid:1", {"resourceType": "Observation"})]), no_matches)
