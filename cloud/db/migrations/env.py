"""Alembic environment: migrates the URL in the config (see cloud.db.engine.upgrade_database)."""

from __future__ import annotations

from alembic import context

from cloud.db.engine import make_engine
from cloud.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "set sqlalchemy.url (use cloud.db.engine.upgrade_database)"

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
