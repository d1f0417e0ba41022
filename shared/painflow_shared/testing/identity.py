"""Tokens from the local identity provider (Keycloak, realm ``painflow``: deploy/keycloak/) for
tests and for ``make token``. Knows the dev realm's conventions, which are public and dev only:
the secret of confidential client ``<name>`` is ``<name>-dev-secret``; ``<name>-jwt`` is the
same integrator with private_key_jwt, its key in ``.run/keycloak/keys/<name>-jwt.pem``; a dev
user's password is its name.

A token with a ``patient`` claim: ``token(PATIENT_CLIENT, patient="123")`` makes (once) a user
whose attribute ``patient`` is ``123`` through the admin REST API (client ``painflow-test-admin``)
and signs it in with the password grant of client ``painflow-tests``, which maps that attribute
to the claim.

    python -m painflow_shared.testing.identity CLIENT   # prints an access token
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from painflow_shared.auth.client import ClientCredentials, TokenError, discover
from painflow_shared.testing.tokens import Signer

REPO = Path(__file__).resolve().parents[3]
DEFAULT_ISSUER = "http://127.0.0.1:8180/realms/painflow"
START_HINT = (
    "Run `make test` (its infra-up starts it), or `bash deploy/keycloak/keycloak.sh start`."
)
PATIENT_CLIENT = "painflow-tests"
ADMIN_CLIENT = "painflow-test-admin"
USER_CLIENT = "clinic"
TIMEOUT = httpx.Timeout(15.0)


class IdentityUnavailable(RuntimeError):
    """The identity provider does not answer, or refused what a test needed from it."""


def issuer_from_env() -> str:
    return os.environ.get("PAINFLOW_AUTH_ISSUER", DEFAULT_ISSUER).rstrip("/")


def keys_dir_from_env() -> Path:
    if "PAINFLOW_KEYS_DIR" in os.environ:
        return Path(os.environ["PAINFLOW_KEYS_DIR"])
    return Path(os.environ.get("PAINFLOW_RUN_DIR", REPO / ".run")) / "keycloak" / "keys"


def dev_secret(client: str) -> str:
    return f"{client}-dev-secret"


def patient_username(patient: str) -> str:
    """Keycloak lower-cases user names and FHIR ids are case-sensitive: name users by a digest."""
    return "patient-" + hashlib.sha256(patient.encode()).hexdigest()[:24]


@dataclass
class Identity:
    issuer: str
    token_url: str
    keys_dir: Path
    audience: str = "painflow"
    _auths: dict[str, ClientCredentials] = field(default_factory=dict)
    _signer: Signer | None = None
    _signer_component: str | None = None

    @classmethod
    def connect(cls, issuer: str | None = None, keys_dir: Path | None = None) -> Identity:
        issuer = (issuer or issuer_from_env()).rstrip("/")
        try:
            document = discover(issuer)
        except (TokenError, ValueError) as error:
            message = f"no identity provider at {issuer} ({error}). {START_HINT}"
            raise IdentityUnavailable(message) from error
        return cls(issuer, str(document["token_endpoint"]), keys_dir or keys_dir_from_env())

    def auth(self, client: str) -> ClientCredentials:
        """Client credentials for a confidential client of the realm (cached per client)."""
        if client not in self._auths:
            self._auths[client] = self._credentials(client)
        return self._auths[client]

    def token(self, client: str, patient: str | None = None) -> str:
        """An access token for ``client``; with ``patient`` (only for PATIENT_CLIENT), a patient
        user's token carrying ``patient`` = that Patient id."""
        if patient is None:
            return self.auth(client).access_token()
        if client != PATIENT_CLIENT:
            raise ValueError(f"a token with a patient claim comes from {PATIENT_CLIENT!r}")
        username = patient_username(patient)
        self._ensure_patient_user(username, patient)
        return self.user_token(username, client=PATIENT_CLIENT)

    def user_token(
        self, username: str, password: str | None = None, client: str = USER_CLIENT
    ) -> str:
        """A user's access token by the password grant (dev users: password = user name)."""
        form = {
            "grant_type": "password",
            "client_id": client,
            "username": username,
            "password": password or username,
            "scope": "openid",
        }
        response = httpx.post(self.token_url, data=form, timeout=TIMEOUT)
        if response.status_code != 200:
            raise IdentityUnavailable(
                f"password grant for {username} via {client}: {response.status_code} "
                f"{response.json().get('error', '') if response.content else ''}"
            )
        return str(response.json()["access_token"])

    def _credentials(self, client: str) -> ClientCredentials:
        if client.endswith("-jwt"):
            pem = self.keys_dir / f"{client}.pem"
            if not pem.is_file():
                raise IdentityUnavailable(f"no key for {client} at {pem}. {START_HINT}")
            return ClientCredentials(self.token_url, client, private_key_pem=pem.read_bytes())
        return ClientCredentials(self.token_url, client, secret=dev_secret(client))

    # ------------------------------------------------------------ tokens a test makes itself

    def mint(self, *, scope: str, audience: str | None = None, **claims: object) -> str:
        """A token signed by a key the realm publishes (see ``register_signer``): genuine in
        every respect but those the test changes (``lifetime=-120``, ``audience=...``,
        ``patient=...``, ``azp=...``)."""
        signer = self.register_signer()
        aud = audience or self.audience
        return signer.mint(issuer=self.issuer, audience=aud, scope=scope, **claims)  # type: ignore[arg-type]

    def forge(self, *, scope: str) -> str:
        """A token under a key id the realm publishes, signed by a key it does not."""
        kid = self.register_signer().kid
        return Signer(kid=kid).mint(issuer=self.issuer, audience=self.audience, scope=scope)

    def register_signer(self) -> Signer:
        """A fresh RSA key, added to the realm as a key provider of low priority (Keycloak
        keeps signing with its own key, and publishes this one too), once per session."""
        if self._signer is not None:
            return self._signer
        signer = Signer()
        with httpx.Client(auth=self.auth(ADMIN_CLIENT), timeout=TIMEOUT) as http:
            realm = http.get(self._admin_url()).json()
            component = {
                "name": f"painflow-test-{signer.kid}",
                "providerId": "rsa",
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm["id"],
                "config": {
                    "priority": ["-100"],
                    "enabled": ["true"],
                    "active": ["true"],
                    "algorithm": ["RS256"],
                    "privateKey": [signer.private_pem()],
                },
            }
            created = http.post(f"{self._admin_url()}/components", json=component)
            if created.status_code != 201:
                raise IdentityUnavailable(f"registering a test key: {created.status_code}")
            self._signer_component = created.headers["location"].rsplit("/", 1)[1]
            signer.kid = self._published_kid(http, signer)
        self._signer = signer
        return signer

    def _published_kid(self, http: httpx.Client, signer: Signer) -> str:
        """Keycloak names the key itself: find it in the realm's JWKS by its modulus."""
        jwks_uri = discover(self.issuer)["jwks_uri"]
        modulus = signer.public_jwk()["n"]
        for key in http.get(str(jwks_uri)).json()["keys"]:
            if key.get("n") == modulus:
                return str(key["kid"])
        raise IdentityUnavailable("the test key does not show in the realm's JWKS")

    def unregister_signer(self) -> None:
        if self._signer_component is None:
            return
        with httpx.Client(auth=self.auth(ADMIN_CLIENT), timeout=TIMEOUT) as http:
            http.delete(f"{self._admin_url()}/components/{self._signer_component}")
        self._signer, self._signer_component = None, None

    def _admin_url(self) -> str:
        base, _, realm = self.issuer.rpartition("/realms/")
        return f"{base}/admin/realms/{realm}"

    def _ensure_patient_user(self, username: str, patient: str) -> None:
        """Create the patient's user once; a second call (or a concurrent test) finds it."""
        user = {
            "username": username,
            "enabled": True,
            "attributes": {"patient": [patient]},
            "credentials": [{"type": "password", "value": username, "temporary": False}],
        }
        with httpx.Client(auth=self.auth(ADMIN_CLIENT), timeout=TIMEOUT) as http:
            response = http.post(f"{self._admin_url()}/users", json=user)
        if response.status_code not in (201, 409):  # 409: it exists already
            raise IdentityUnavailable(f"creating the patient user: {response.status_code}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m painflow_shared.testing.identity CLIENT", file=sys.stderr)
        return 2
    try:
        print(Identity.connect().token(argv[0]))
    except (IdentityUnavailable, TokenError) as error:
        print(f"token: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
