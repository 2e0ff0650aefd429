"""Alembic environment: the engine comes from `load.migrate.alembic_config`."""

from __future__ import annotations

from alembic import context

from newsetl.load.models import Base

engine = context.config.attributes["engine"]
# Two runs starting at once on an empty PostgreSQL database must not both create the schema: the first
# takes this lock and migrates, the second waits and then finds nothing left to do.
MIGRATION_LOCK_ID = 0x6E6577736574  # "newset"

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
