"""A pooled PostgreSQL connection plans every statement with its values (issue 12).

psycopg prepares a statement on the server after its fifth execution on a connection, and
PostgreSQL then switches a prepared statement to one *generic* plan when that looks no dearer
than the custom ones. A service starts on empty tables, so the generic plan it settles on is
made for empty tables (a scan), and the pool keeps that connection for half an hour: the
referral's patient match grew from 0.4 ms to 9 ms (p90 27 ms) within a few hundred referrals.
``make_engine`` sets ``plan_cache_mode=force_custom_plan``: statements stay prepared (no
re-parse), and each execution is planned for its parameters.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from painflow_shared.db import make_engine

LOOKUP = (
    "SELECT resource_id FROM fhir_search_index WHERE resource_type = %(type)s "
    "AND param = %(param)s AND value = %(value)s"
)


def _plans_after_repeats(engine: Engine, repeats: int = 12) -> tuple[int, int]:
    with engine.connect() as conn:
        for n in range(repeats):
            conn.exec_driver_sql(
                LOOKUP, {"type": "Patient", "param": "identifier", "value": f"mrn-{n}"}
            ).all()
        row = conn.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%%FROM fhir_search_index WHERE resource_type%%'"
        ).one()
    return int(row[0]), int(row[1])


def test_a_repeated_lookup_is_planned_for_its_values(pg_engine: Engine) -> None:
    generic, custom = _plans_after_repeats(pg_engine)
    assert generic == 0
    assert custom >= 6  # prepared from the fifth execution on, custom-planned every time


def test_without_the_setting_the_server_would_settle_on_a_generic_plan(pg_engine: Engine) -> None:
    """The mechanism the setting guards against, shown on the same table."""
    plain = create_engine(pg_engine.url)
    try:
        generic, _custom = _plans_after_repeats(plain)
    finally:
        plain.dispose()
    assert generic > 0


def test_sqlite_engines_take_no_postgresql_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/plans.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
