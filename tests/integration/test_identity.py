"""The local identity provider (Keycloak, realm painflow, deploy/keycloak/painflow-realm.json):
every client's token is signed by the realm, names the platform audience and carries exactly
the SMART scopes the README's table promises; private_key_jwt works for every integrator; a
patient's token carries the patient claim; each dev user gets the scopes of their role.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from painflow_referral.bundle_plan import ACCEPTED_TYPES
from painflow_shared.auth.client import ClientCredentials, discover
from painflow_shared.testing.identity import PATIENT_CLIENT, Identity

pytestmark = pytest.mark.integration

AUDIENCE = "painflow"
# The referral service's intake types: created and updated by the EHR; Patient also read.
EHR = {f"system/{t}.cu" for t in ACCEPTED_TYPES - {"Patient"}} | {
    "system/Patient.cru",
    "system/Task.rs",
}
SCHEDULER_MUST = {
    "system/Appointment.crus",
    "system/Slot.crus",
    "system/Schedule.rs",
    "system/ServiceRequest.rs",
    "system/Procedure.crus",
    "system/Task.rus",
    "system/Patient.rs",
}
CLIENTS = {
    "ehr": EHR,
    "dashboard": {"system/*.rs"},
    "admin": {"system/*.cruds"},
}


def verified(token: str, identity: Identity) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(discover(identity.issuer)["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=identity.issuer)


def scopes(claims: dict[str, Any]) -> set[str]:
    return set(claims["scope"].split())


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("suffix", ["", "-jwt"])
def test_each_client_gets_exactly_its_scopes(identity: Identity, client: str, suffix: str) -> None:
    claims = verified(identity.token(client + suffix), identity)
    assert scopes(claims) == CLIENTS[client]
    assert claims["azp"] == claims["client_id"] == client + suffix
    assert 0 < claims["exp"] - time.time() <= 300
    assert claims["sub"]


@pytest.mark.parametrize("client", ["scheduler", "scheduler-jwt"])
def test_the_scheduler_books_and_records_but_writes_no_intake(
    identity: Identity, client: str
) -> None:
    granted = scopes(verified(identity.token(client), identity))
    assert granted >= SCHEDULER_MUST
    assert not {s for s in granted if s.startswith(("system/Patient.", "system/Condition."))} - {
        "system/Patient.rs",
        "system/Condition.rs",
    }


def test_the_ehr_cannot_book_or_read_beyond_its_referrals(identity: Identity) -> None:
    granted = scopes(verified(identity.token("ehr"), identity))
    assert not any(s.startswith(("system/Appointment", "system/*")) for s in granted)
    assert "system/ServiceRequest.cu" in granted and "system/ServiceRequest.rs" not in granted


def test_a_client_assertion_is_single_use(identity: Identity) -> None:
    """private_key_jwt: the realm refuses a replayed assertion (its jti was seen)."""
    pem = (identity.keys_dir / "ehr-jwt.pem").read_bytes()
    auth = ClientCredentials(identity.token_url, "ehr-jwt", private_key_pem=pem)
    form = auth._token_request()  # one assertion, sent twice
    assert httpx.post(**form).status_code == 200
    replay = httpx.post(**form)
    assert replay.status_code in (400, 401)
    assert "access_token" not in replay.json()


def test_a_patient_token_carries_the_patient_chosen_at_run_time(identity: Identity) -> None:
    patient = f"Pt-{time.time_ns()}"  # a fresh id: case kept, never seen by the realm before
    claims = verified(identity.token(PATIENT_CLIENT, patient=patient), identity)
    assert claims["patient"] == patient
    assert "patient/*.rs" in scopes(claims)
    assert not {s for s in scopes(claims) if s.startswith(("system/", "user/"))}
    again = verified(identity.token(PATIENT_CLIENT, patient=patient), identity)
    assert again["patient"] == patient and again["sub"] == claims["sub"]
    other = verified(identity.token(PATIENT_CLIENT, patient=patient.lower()), identity)
    assert other["patient"] == patient.lower() and other["sub"] != claims["sub"]


@pytest.mark.parametrize(
    ("user", "writes"),
    [
        ("coordinator", {"user/Task.u"}),
        ("clinician", {"user/Task.u", "user/ClinicalImpression.cu", "user/CarePlan.cu"}),
        ("scheduler", {"user/Appointment.cu", "user/Procedure.cu", "user/Slot.cu"}),
        ("nurse", {"user/Observation.cu", "user/QuestionnaireResponse.c"}),
    ],
)
def test_each_dev_user_gets_the_scopes_of_their_role(
    identity: Identity, user: str, writes: set[str]
) -> None:
    claims = verified(identity.user_token(user), identity)
    granted = scopes(claims)
    assert {"openid", "user/*.rs"} | writes <= granted
    assert claims["azp"] == "clinic" and claims["preferred_username"] == user
    assert user in claims["realm_access"]["roles"]
    assert not {s for s in granted if s.startswith(("system/", "patient/"))}
    if user == "coordinator":
        assert "user/Appointment.cu" not in granted  # another role's work


def test_the_clinic_client_requires_pkce(identity: Identity) -> None:
    authorize = discover(identity.issuer)["authorization_endpoint"]
    params = {
        "client_id": "clinic",
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": "http://127.0.0.1:8005/auth/callback",
    }
    without = httpx.get(authorize, params=params)
    assert without.status_code in (302, 400)
    assert "code_challenge" in without.headers.get("location", "") + without.text
    with_pkce = httpx.get(
        authorize, params={**params, "code_challenge": "x" * 43, "code_challenge_method": "S256"}
    )
    assert with_pkce.status_code == 200  # the sign-in page
