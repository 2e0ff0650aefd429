"""The schema changes only through Alembic: upgrade, check and downgrade on empty SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from newsetl.load.db import make_engine
from newsetl.load.migrate import (
    alembic_config,
    check,
    current_revision,
    head_revision,
    is_up_to_date,
    upgrade,
)
from newsetl.load.models import Base


def test_migrations_build_the_models_schema_and_come_down_again(database_url) -> None:
    engine = make_engine(database_url)
    assert not is_up_to_date(engine)

    upgrade(engine)

    assert current_revision(engine) == head_revision() and is_up_to_date(engine)
    check(engine)  # raises when the models and the migrations disagree
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
