"""HTTP as an authorised client: the integration tests call the services with a bearer token.

The ``platform`` fixture sets ``api.auth`` to the Keycloak ``admin`` client's credentials
(``system/*.cruds``), so every call is a genuine SMART Backend Services client's. Tests about
tokens themselves (tests/integration/test_authorization.py) use httpx directly.
"""

from __future__ import annotations

from typing import Any

import httpx


class AuthorisedHttp:
    def __init__(self) -> None:
        self.auth: httpx.Auth | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("auth", self.auth)
        return httpx.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("auth", self.auth)
        return httpx.Client(**kwargs)


api = AuthorisedHttp()
