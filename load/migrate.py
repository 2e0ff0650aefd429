"""Schema migrations through Alembic, driven from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from newsetl.transform.errors import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (`alembic check`)."""
    command.check(alembic_config(engine))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


class SchemaBehind(ConfigError):
    """The database was created by another version of newsetl; the message says what to run."""


def prepare(engine: Engine) -> None:
    """Create the schema in an empty database; refuse one whose schema is at another revision.

    Migrating an existing database is a step of its own (`newsetl db upgrade`): a scheduled run must not
    alter a production schema behind the operator's back, and a worker with older code must not run
    against a newer schema.
    """
    current, head = current_revision(engine), head_revision()
    if current is None:
        upgrade(engine)
    elif current != head:
        raise SchemaBehind(
            f"the database schema is at revision {current} but this newsetl needs {head}; "
            "run `newsetl db upgrade` (with the same --db) first"
        )
