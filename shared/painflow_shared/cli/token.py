"""``painflow token CLIENT``: an access token from the identity provider, for curl."""

from __future__ import annotations

import click

from painflow_shared.auth.client import TokenError
from painflow_shared.cli.config import client_credentials, issuer


@click.command()
@click.argument("client", default="admin")
def token(client: str) -> None:
    """Print an access token for CLIENT (client credentials: PAINFLOW_CLIENT_SECRET or
    PAINFLOW_CLIENT_KEY; in development the dev realm's secret). Use it as
    `curl -H "Authorization: Bearer $(painflow token ehr)" ...`."""
    try:
        click.echo(client_credentials(client).access_token())
    except TokenError as exc:
        raise click.ClickException(f"{issuer()} refused a token for {client}: {exc}") from exc
