"""OperationOutcome building and the one exception handler that maps errors to HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from painflow_shared.fhir.errors import FhirError, Issue, ServiceUnavailable
from painflow_shared.fhir.media import FHIR_JSON, fhir_response
from painflow_shared.fhir.model_errors import model_rule

log = logging.getLogger(__name__)

_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported", 415: "not-supported"}


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [_issue_json(issue) for issue in issues],
    }


def _issue_json(issue: Issue) -> dict[str, Any]:
    body: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue.code,
        "diagnostics": issue.diagnostics,
    }
    if issue.expression:
        body["expression"] = list(issue.expression)
    return body


def outcome_response(status: int, issues: list[Issue]) -> Response:
    return fhir_response(operation_outcome(issues), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as an OperationOutcome: FHIR clients never see a bare HTML or 500."""

    @app.exception_handler(FhirError)
    async def _fhir_error(_: Request, exc: FhirError) -> Response:
        response = outcome_response(exc.status, exc.issues)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        issues = [  # the rule, never pydantic's msg, which may quote the value sent
            Issue(
                f"{_loc(err.get('loc'))} {model_rule(err)}",
                "invalid",
                "error",
                (_loc(err.get("loc")),),
            )
            for err in exc.errors()
        ]
        return outcome_response(400, issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_ISSUE_CODES.get(exc.status_code, "processing")
        return outcome_response(exc.status_code, [Issue(str(exc.detail), code)])

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> Response:
        # a pooled connection that died (the database restarted): nothing was committed
        log.warning("database unavailable on %s %s", request.method, request.url.path)
        error = ServiceUnavailable("the service's database is unavailable; retry shortly")
        response = outcome_response(error.status, error.issues)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return outcome_response(500, [Issue("internal error; see the trace", "exception")])


def _loc(loc: Any) -> str:
    return ".".join(str(part) for part in (loc or ()))


__all__ = [
    "FHIR_JSON",
    "install_error_handlers",
    "operation_outcome",
    "outcome_response",
]
