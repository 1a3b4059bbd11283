"""Migrations build the schema from empty, and the schema is exactly what the models say."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from cloud.db.engine import alembic_config, current_revision, make_engine, upgrade_database
from cloud.db.models import Base

TABLES = {"booths", "nodes", "sessions", "shards", "frames", "manifests", "dead_letters", "jobs"}


def test_upgrade_from_empty_matches_models(db_url: str) -> None:
    upgrade_database(db_url)
    upgrade_database(db_url)  # idempotent at head
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
        assert current_revision(engine) == head
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    from alembic import command

    upgrade_database(db_url)
    command.downgrade(alembic_config(db_url), "base")
    engine = make_engine(db_url)
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade_database(db_url)
