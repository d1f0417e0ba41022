"""_summary and _elements cut a resource down and tag it SUBSETTED."""

from __future__ import annotations

from painflow_shared.fhir.subsetting import subset

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"versionId": "2"},
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    "name": [{"family": "Doe"}],
    "birthDate": "1970-01-01",
    "_birthDate": {"extension": [{"url": "http://painflow.test/e", "valueString": "x"}]},
    "contact": [{"name": {"family": "Roe"}}],
}


def _tags(resource):
    return [tag["code"] for tag in resource.get("meta", {}).get("tag", [])]


def test_summary_true_keeps_summary_elements_with_their_extensions():
    cut = subset(PATIENT, summary="true")
    assert set(cut) == {"resourceType", "id", "meta", "name", "birthDate", "_birthDate"}
    assert _tags(cut) == ["SUBSETTED"]


def test_summary_text_and_data():
    assert set(subset(PATIENT, summary="text")) == {"resourceType", "id", "meta", "text"}
    assert "text" not in subset(PATIENT, summary="data")


def test_elements_keep_the_listed_ones_plus_id_and_meta():
    cut = subset(PATIENT, summary=None, elements=("name", "nonexistent"))
    assert set(cut) == {"resourceType", "id", "meta", "name"}
    assert _tags(cut) == ["SUBSETTED"]


def test_nothing_asked_or_nothing_removed_is_the_resource_untouched():
    assert subset(PATIENT, summary=None) is PATIENT
    assert subset(PATIENT, summary="false") is PATIENT
    assert "tag" not in PATIENT["meta"]
