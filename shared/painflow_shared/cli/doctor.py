"""``painflow doctor``: the broker, the identity provider, each service's readiness (its
database, its Kafka clients), and what is wrong, in words."""

from __future__ import annotations

import click
import httpx

from painflow_shared.auth.client import ClientCredentials, TokenError
from painflow_shared.cli.config import SERVICES, issuer, kafka_settings, service_auth, service_url
from painflow_shared.events.clients import make_admin
from painflow_shared.observability import reachable


def broker_problem() -> str | None:
    settings = kafka_settings()
    address = settings.kafka_bootstrap_servers
    if not reachable(address, timeout=3):
        return (
            f"no Kafka broker accepts connections at {address}: start it (`make up`, or "
            "`bash deploy/kafka/kafka.sh start`) or set KAFKA_BOOTSTRAP_SERVERS"
        )
    try:
        admin = make_admin(settings, client_id="painflow-doctor", request_timeout_ms=5000)
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:
        return f"something listens at {address} but does not answer as Kafka ({type(exc).__name__})"
    return None


def identity_problem() -> str | None:
    """The identity provider answers discovery and gives the CLI's client a token."""
    where = issuer()
    try:
        service_auth_token()
    except click.ClickException as exc:
        return f"{exc.message} (start it: `make up`, or `bash deploy/keycloak/keycloak.sh start`)"
    except (TokenError, httpx.HTTPError, ValueError) as exc:
        return f"the identity provider at {where} refused a token ({type(exc).__name__}: {exc})"
    return None


def service_auth_token() -> None:
    auth = service_auth()
    if isinstance(auth, ClientCredentials):
        auth.access_token()


def service_problems(service: str) -> list[str]:
    url = service_url(service)
    try:
        response = httpx.get(f"{url}/health/ready", timeout=10)
    except httpx.HTTPError:
        return [
            f"{service} does not answer at {url}: is it running? (`make up`; its log is "
            f".run/logs/{service}.log; PAINFLOW_{service.upper()}_URL if it runs elsewhere)"
        ]
    if response.status_code == 200:
        return []
    try:
        body = response.json()
    except ValueError:
        return [f"{service} at {url} answers {response.status_code} to /health/ready"]
    problems = body.get("problems") or {}
    failed = [name for name, state in (body.get("checks") or {}).items() if state != "pass"]
    return [f"{service} is not ready: {name}: {problems.get(name, 'fails')}" for name in failed]


@click.command()
def doctor() -> None:
    """Check the broker and every service; say what is wrong. Exit 1 if anything is."""
    problems: list[str] = []
    broker = broker_problem()
    _report("broker", kafka_settings().kafka_bootstrap_servers, [broker] if broker else [])
    problems += [broker] if broker else []
    idp = identity_problem()
    _report("identity", issuer(), [idp] if idp else [])
    problems += [idp] if idp else []
    for service in SERVICES:
        found = service_problems(service)
        _report(service, service_url(service), found)
        problems += found
    if problems:
        click.echo(f"\n{len(problems)} problem(s):")
        for problem in problems:
            click.echo(f"  - {problem}")
        raise SystemExit(1)
    click.echo("\neverything answers and is ready")


def _report(name: str, where: str, problems: list[str]) -> None:
    click.echo(f"{'ok  ' if not problems else 'FAIL'}  {name:<11} {where}")
