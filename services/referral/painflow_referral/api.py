"""FHIR REST of the referral service: parse at the door, hand to intake, answer in FHIR."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from painflow_referral.intake import IntakeContext, IntakeResult, submit_transaction
from painflow_referral.tables import ReferralCase
from painflow_shared.fhir.bundles import full_url
from painflow_shared.fhir.errors import InvalidRequest
from painflow_shared.fhir.http import read_fhir_body
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.store import new_id, utcnow
from painflow_shared.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(prefix="/fhir", tags=["referral"])


@router.post("")
@router.post("/")
async def transaction_or_batch(request: Request, runtime: RuntimeDep) -> Response:
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type="Bundle")
    if body.get("type") != "transaction":
        raise InvalidRequest(
            "POST to the base takes a Bundle of type transaction", expression="Bundle.type"
        )
    return fhir_response(_run_transaction(request, runtime, body))


def _run_transaction(request: Request, runtime: ServiceRuntime, bundle: dict[str, Any]) -> dict[str, Any]:
    """One database transaction; a concurrent duplicate (unique identifier) is answered as a replay."""
    for attempt in (1, 2):
        try:
            with request.app.state.session_factory() as session:
                ctx = request.app.state.intake_context(session)
                outcome = submit_transaction(ctx, bundle)
                response = _transaction_response(runtime, outcome)
                _remember(outcome, response)
                session.commit()
                return response
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _remember(outcome: IntakeResult, response: dict[str, Any]) -> None:
    for case in outcome.cases:
        case.submission_response = response


def _transaction_response(runtime: ServiceRuntime, outcome: IntakeResult) -> dict[str, Any]:
    if outcome.replay_of is not None:
        return _replayed(outcome.replay_of)
    entries = []
    for result in outcome.results:
        meta = result.resource.get("meta", {})
        entries.append(
            {
                "fullUrl": full_url(runtime.base_url, result.resource),
                "response": {
                    "status": result.status,
                    "location": f"{result.resource['resourceType']}/{result.resource['id']}/_history/{meta.get('versionId')}",
                    "etag": f'W/"{meta.get("versionId")}"',
                    "lastModified": meta.get("lastUpdated"),
                },
            }
        )
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "type": "transaction-response",
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "entry": entries,
    }


def _replayed(case: ReferralCase) -> dict[str, Any]:
    """The answer the first submission got, with every entry now 200: nothing new was made."""
    original = dict(case.submission_response or {})
    entries = [
        {**e, "response": {**e.get("response", {}), "status": "200 OK"}} for e in original.get("entry", [])
    ]
    return {**original, "id": new_id(), "entry": entries}
