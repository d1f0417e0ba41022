"""``painflow kafka acls|setup``: the services' Kafka ACLs (events/acls.py) and topics.

Run as the broker's super user (``KAFKA_SASL_USERNAME=admin``, the development default): the
ACLs give each service's principal exactly the topics it publishes and consumes.
"""

from __future__ import annotations

import click

from painflow_shared.cli.config import kafka_settings
from painflow_shared.events.acls import SERVICE_TOPICS, apply_acls, platform_acls
from painflow_shared.events.clients import make_admin
from painflow_shared.events.topics import ensure_topics

_PREFIX = click.option(
    "--prefix", default="", help="topic prefix (PAINFLOW_TOPIC_PREFIX of the services)"
)
_GROUP_SUFFIX = click.option(
    "--group-suffix", default="", help="appended to each consumer group (painflow-<service>)"
)


@click.group()
def kafka() -> None:
    """The services' principals on the broker: their ACLs and their topics."""


@kafka.command()
@_PREFIX
@_GROUP_SUFFIX
@click.option("--dry-run", is_flag=True, help="print the ACLs without creating them")
def acls(prefix: str, group_suffix: str, dry_run: bool) -> None:
    """Create every service's ACLs (creating an existing one changes nothing)."""
    bindings = list(platform_acls(prefix, group_suffix))
    if dry_run:
        for acl in bindings:
            pattern = acl.resource_pattern
            click.echo(
                f"{acl.principal}\t{acl.operation.name}\t"
                f"{pattern.resource_type.name}:{pattern.resource_name}"
            )
        return
    admin = make_admin(kafka_settings(), client_id="painflow-cli")
    try:
        created = apply_acls(admin, bindings)
    finally:
        admin.close()
    click.echo(f"{created} ACLs for {len(SERVICE_TOPICS)} services ({', '.join(SERVICE_TOPICS)})")


@kafka.command()
@_PREFIX
@_GROUP_SUFFIX
@click.pass_context
def setup(ctx: click.Context, prefix: str, group_suffix: str) -> None:
    """The ACLs, then every topic and DLQ: what `make up` runs before the services start."""
    ctx.invoke(acls, prefix=prefix, group_suffix=group_suffix, dry_run=False)
    settings = kafka_settings()
    settings.topic_prefix = prefix
    ensure_topics(settings)
    click.echo("topics ready")
