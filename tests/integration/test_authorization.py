"""Who may call: every guarded route of every service against every kind of bad token.

Tokens are Keycloak's (tests/integration/api.py) or minted with a signing key the realm
publishes (``identity.mint``), so an expired or wrong-audience token is genuine in every other
respect; a forged one is signed by a key nobody publishes under a published key id.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from painflow_shared.auth.guard import CONFORMANCE_TYPES
from painflow_shared.testing.factories import referral_bundle

from .api import api
from .conftest import FHIR_JSON, SERVICES, post_referral, stored_counts

pytestmark = pytest.mark.integration

BAD_TOKENS = ("none", "forged", "expired", "not-yet-valid", "wrong-audience", "garbage")


def _guarded_routes(platform: Any, service: str) -> list[tuple[str, str, APIRoute]]:
    """(method, concrete path, route) for every route that needs a token."""
    app = platform.servers[service].app
    runtime = platform.runtime(service)
    a_type = runtime.declaration.resources[0].type
    routes = []
    for route in _api_routes(app.routes, guarded=False):
        path = route.path.replace("{resource_type}", a_type).replace("{version_id}", "1")
        path = re.sub(r"\{[a-z_]+\}", "x-1", path)
        for method in sorted(route.methods):
            routes.append((method, path, route))
    return routes


def _api_routes(routes: list[Any], *, guarded: bool) -> list[APIRoute]:
    """The routes behind ``authorize`` (FastAPI keeps included routers as they were included)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute) and guarded:
            found.append(route)
        context = getattr(route, "include_context", None)
        if context is not None:
            names = {getattr(d.dependency, "__name__", "") for d in context.dependencies or []}
            found += _api_routes(
                route.original_router.routes, guarded=guarded or "authorize" in names
            )
    return found


def _token(identity: Any, platform: Any, kind: str) -> str | None:
    scope = "system/*.cruds"
    if kind == "none":
        return None
    if kind == "forged":
        return identity.forge(scope=scope)
    if kind == "expired":
        return identity.mint(scope=scope, lifetime=-120)
    if kind == "not-yet-valid":
        return identity.mint(scope=scope, not_before=4_000_000_000, lifetime=4_000_000_000)
    if kind == "wrong-audience":
        return identity.mint(scope=scope, audience="https://another-fhir-server.example/fhir")
    return "not-a-jwt"


def _call(platform: Any, service: str, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {**FHIR_JSON, **({"authorization": f"Bearer {token}"} if token else {})}
    content = b"{}" if method in ("POST", "PUT") else None
    if method == "PATCH":
        headers["content-type"] = "application/json-patch+json"
        content = b"[]"
    if path.rstrip("/") == "/fhir":  # a Bundle: the scopes of its entries
        content = json.dumps(referral_bundle()).encode()
    url = f"{platform.url(service)}{path}"
    return httpx.request(method, url, headers=headers, content=content, timeout=30)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_every_route_refuses_a_bad_token_and_changes_nothing(platform, identity, service, kind):
    routes = _guarded_routes(platform, service)
    assert len(routes) >= 6, routes  # the generic reads at least
    before = stored_counts(platform, service)
    token = _token(identity, platform, kind)
    for method, path, _ in routes:
        response = _call(platform, service, method, path, token)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "login"
    assert stored_counts(platform, service) == before


@pytest.mark.parametrize("service", SERVICES)
def test_a_token_without_the_scope_is_forbidden_everywhere(platform, identity, service):
    token = identity.mint(scope="system/Basic.rs")  # a type no route here serves
    before = stored_counts(platform, service)
    for method, path, route in _guarded_routes(platform, service):
        response = _call(platform, service, method, path, token)
        if _needs_no_scope(route, method, path):
            assert response.status_code != 401, (method, path)
            continue
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["issue"][0]["code"] == "forbidden"
    assert stored_counts(platform, service) == before


def _needs_no_scope(route: APIRoute, method: str, path: str) -> bool:
    """Definitional resources (Questionnaire, OperationDefinition) and redirects: any token."""
    declared = getattr(route.endpoint, "__painflow_needs__", None)
    if declared is not None:
        return declared == ()
    return method == "GET" and path.split("/")[2] in ("Questionnaire", "OperationDefinition")


def test_metadata_and_health_stay_open(platform):
    for service in SERVICES:
        url = platform.url(service)
        assert httpx.get(f"{url}/fhir/metadata").status_code == 200
        assert httpx.get(f"{url}/health/live").status_code == 200


def test_the_capability_statement_advertises_smart(platform, identity):
    statement = httpx.get(f"{platform.fhir('referral')}/metadata").json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"].startswith(identity.issuer)
    smart = httpx.get(f"{platform.fhir('referral')}/.well-known/smart-configuration").json()
    assert smart["token_endpoint"] == uris["token"]
    assert "private_key_jwt" in smart["token_endpoint_auth_methods_supported"]
    assert "permission-v2" in smart["capabilities"]


def test_a_transaction_needs_the_scope_of_every_entry(platform, identity):
    only_patients = identity.mint(scope="system/Patient.cu system/ServiceRequest.cu")
    before = stored_counts(platform)
    response = httpx.post(
        platform.fhir("referral"),
        json=referral_bundle(),
        headers={**FHIR_JSON, "authorization": f"Bearer {only_patients}"},
    )
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["expression"][0].startswith("Bundle.entry[")
    assert stored_counts(platform) == before


@pytest.fixture(scope="module")
def two_patients(platform) -> tuple[str, str]:
    first, _ = post_referral(platform)
    second, _ = post_referral(platform)
    return first, second


def _as(token: str) -> dict[str, str]:
    return {**FHIR_JSON, "authorization": f"Bearer {token}"}


def test_a_patient_token_reads_only_its_own_compartment(platform, identity, two_patients):
    mine, theirs = two_patients
    token = identity.mint(scope="patient/*.rs", patient=mine)
    base = platform.fhir("referral")
    assert httpx.get(f"{base}/Patient/{mine}", headers=_as(token)).status_code == 200
    refused = httpx.get(f"{base}/Patient/{theirs}", headers=_as(token))
    assert refused.status_code == 403
    assert theirs not in refused.text or "Patient/" not in refused.text
    for query in (
        "Patient",
        f"Patient?_id={theirs}",
        "Condition",
        "ServiceRequest?_include=ServiceRequest:subject",
        f"ServiceRequest?subject=Patient/{theirs}",
    ):
        bundle = httpx.get(f"{base}/{query}", headers=_as(token)).json()
        assert bundle["resourceType"] == "Bundle", (query, bundle)
        patients = {_patient_of(e["resource"]) for e in bundle.get("entry", [])}
        assert patients <= {mine}, (query, patients)
        assert bundle["total"] <= 1 or query.startswith(("Condition", "ServiceRequest"))
    own = httpx.get(f"{base}/ServiceRequest", headers=_as(token)).json()
    assert own["total"] >= 1


def _patient_of(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    return str(resource["subject"]["reference"]).split("/")[-1]


def test_a_patient_token_may_not_write_or_see_another_journey(platform, identity, two_patients):
    mine, theirs = two_patients
    token = identity.mint(scope="patient/*.cruds", patient=mine)
    before = stored_counts(platform)
    posted = httpx.post(platform.fhir("referral"), json=referral_bundle(), headers=_as(token))
    assert posted.status_code == 403
    assert stored_counts(platform) == before
    journeys = platform.url("followup")
    assert httpx.get(f"{journeys}/journeys/{theirs}", headers=_as(token)).status_code == 403
    assert httpx.get(f"{journeys}/journeys/{mine}", headers=_as(token)).status_code in (200, 404)


def test_keycloak_tokens_work_end_to_end(platform, identity):
    """The EHR client's own Keycloak token: a referral in, its triage Task readable."""
    ehr = identity.auth("ehr")
    response = httpx.post(
        platform.fhir("referral"), json=referral_bundle(), headers=FHIR_JSON, auth=ehr
    )
    assert response.status_code == 200, response.text
    tasks = httpx.get(f"{platform.fhir('referral')}/Task", auth=ehr)
    assert tasks.status_code == 200
    # the EHR may not read what the scheduler books
    assert httpx.get(f"{platform.fhir('scheduling')}/Appointment", auth=ehr).status_code == 403
    assert api.get(f"{platform.fhir('scheduling')}/Appointment").status_code == 200


def test_a_client_past_its_rate_limit_gets_429(platform, identity):
    runtime = platform.runtime("assessment")
    limiter = runtime.authenticator.limiter
    saved = limiter.items
    from limits import parse_many

    limiter.items = parse_many("5/minute")
    try:
        token = identity.mint(scope="system/*.rs", azp="rate-limited-client")
        statuses = [
            httpx.get(f"{platform.fhir('assessment')}/Task", headers=_as(token)).status_code
            for _ in range(7)
        ]
        assert statuses[:5] == [200] * 5
        assert statuses[5] == 429
        last = httpx.get(f"{platform.fhir('assessment')}/Task", headers=_as(token))
        assert int(last.headers["retry-after"]) >= 1
        other = identity.mint(scope="system/*.rs", azp="another-client")
        assert (
            httpx.get(f"{platform.fhir('assessment')}/Task", headers=_as(other)).status_code == 200
        )
    finally:
        limiter.items = saved


@pytest.mark.parametrize("service", SERVICES)
def test_another_patients_token_reads_and_writes_nothing_anywhere(
    platform, identity, two_patients, service
):
    """Every route, called with a patient/ token for a patient who has nothing here: a 403, or
    (a compartment-aware read or search) an answer holding nothing of anyone else."""
    mine, theirs = two_patients
    token = identity.mint(scope="patient/*.cruds", patient="someone-else")
    before = stored_counts(platform, service)
    for method, path, _ in _guarded_routes(platform, service):
        response = _call(platform, service, method, path.replace("x-1", theirs), token)
        if response.status_code == 200:
            body = response.json()
            assert method == "GET" and body["resourceType"] == "Bundle", (method, path)
            kinds = {e["resource"]["resourceType"] for e in body.get("entry", [])}
            assert kinds <= CONFORMANCE_TYPES, (method, path)  # definitions are anyone's
            assert mine not in response.text and theirs not in response.text, (method, path)
        elif response.status_code == 308:  # the old journey path's redirect: no data
            assert "/journeys/" in response.headers["location"]
        else:
            assert response.status_code in (403, 404), (method, path, response.status_code)
            assert response.json()["resourceType"] == "OperationOutcome"
    assert stored_counts(platform, service) == before
