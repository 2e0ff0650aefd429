"""Alembic environment: the engine comes from `load.migrate.alembic_config`."""

from __future__ import annotations

from alembic import context

from newsetl.load.models import Base
from newsetl.load.search import FTS_TABLE, TSVECTOR_COLUMN, TSVECTOR_INDEX

engine = context.config.attributes["engine"]
# Two runs starting at once on an empty PostgreSQL database must not both create the schema: the first
# takes this lock and migrates, the second waits and then finds nothing left to do.
MIGRATION_LOCK_ID = 0x6E6577736574  # "newset"


def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """Everything but the full-text index of migration 0006, which the models cannot describe: an FTS5
    virtual table (and the shadow tables SQLite keeps for it) has no portable SQLAlchemy form, nor has a
    PostgreSQL generated tsvector column with its GIN index. Without this, `alembic check` would ask to
    drop them."""
    if type_ == "table":
        return not (name or "").startswith(FTS_TABLE)
    if type_ == "column":
        return not (parent_names.get("table_name") == "articles" and name == TSVECTOR_COLUMN)
    return not (type_ == "index" and name == TSVECTOR_INDEX)


with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
