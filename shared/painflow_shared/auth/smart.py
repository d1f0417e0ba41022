"""``[base]/.well-known/smart-configuration``: how a SMART client finds where to get a token.

Served by every service (open, like ``/fhir/metadata``), from the issuer's own discovery
document plus what this server enforces.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from painflow_shared.auth.guard import Authenticator
from painflow_shared.fhir.errors import ServiceUnavailable

CAPABILITIES = [
    "client-confidential-asymmetric",
    "client-confidential-symmetric",
    "permission-v1",
    "permission-v2",
    "permission-patient",
    "permission-user",
    "launch-standalone",
]
_FROM_ISSUER = (
    "issuer",
    "jwks_uri",
    "authorization_endpoint",
    "token_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
    "grant_types_supported",
    "code_challenge_methods_supported",
)


def smart_configuration(document: dict[str, Any]) -> dict[str, Any]:
    config = {k: document[k] for k in _FROM_ISSUER if k in document}
    config["token_endpoint_auth_methods_supported"] = ["private_key_jwt", "client_secret_basic"]
    config["token_endpoint_auth_signing_alg_values_supported"] = ["RS384", "ES384", "RS256"]
    config["scopes_supported"] = ["system/*.cruds", "user/*.cruds", "patient/*.rs"]
    config["capabilities"] = CAPABILITIES
    return config


def smart_router(authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])

    @router.get("/.well-known/smart-configuration")
    def configuration() -> Response:
        document = authenticator.endpoints()
        if document is None:
            raise ServiceUnavailable("the identity provider does not answer; try again")
        return JSONResponse(smart_configuration(document))

    return router
