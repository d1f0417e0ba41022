"""One error vocabulary: every error leaves as an OperationOutcome with the right status."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from painflow_shared.fhir import errors
from painflow_shared.fhir.outcomes import install_error_handlers


def _app(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.InvalidRequest("bad", expression="Patient.name"), 400, "structure"),
        (errors.InvalidCode("bad code"), 400, "code-invalid"),
        (errors.NotFound("no"), 404, "not-found"),
        (errors.Conflict("clash"), 409, "conflict"),
        (errors.PreconditionFailed("stale"), 412, "conflict"),
        (errors.PayloadTooLarge("big"), 413, "too-costly"),
        (errors.UnsupportedMediaType("xml"), 415, "not-supported"),
        (errors.BusinessRuleViolation("rule"), 422, "business-rule"),
        (errors.Gone("deleted"), 410, "deleted"),
    ],
)
def test_fhir_errors_map_to_status_and_issue_code(error, status, code):
    response = _app(error).get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    assert outcome["issue"][0]["severity"] == "error"


def test_expression_paths_are_kept():
    outcome = (
        _app(errors.InvalidRequest("bad", expression="Bundle.entry[2].resource.subject"))
        .get("/boom")
        .json()
    )
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[2].resource.subject"]


def test_unexpected_errors_are_500_outcomes_that_reveal_nothing():
    response = _app(RuntimeError("Jane Doe born 1970")).get("/boom")
    assert response.status_code == 500
    assert "Jane" not in response.text
    assert response.json()["issue"][0]["code"] == "exception"


def test_unknown_routes_are_404_outcomes():
    response = _app(RuntimeError()).get("/nowhere")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
