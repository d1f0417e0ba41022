"""The body of every service's Alembic ``env.py``: run against the connection we hand it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, engine_from_config, pool


def run_migrations(target_metadata: MetaData | None = None) -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, target_metadata)
        return
    # `alembic upgrade head` from a shell: sqlalchemy.url comes from the ini or -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url")
    section = context.config.get_section(context.config.config_ini_section) or {}
    if url:
        section["sqlalchemy.url"] = url
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as conn:
        _run(conn, target_metadata)


def _run(connection: object, target_metadata: MetaData | None) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
