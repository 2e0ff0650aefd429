"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database dropped afterwards."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from newsetl.load.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "TESTS_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# CI sets this so that an unreachable PostgreSQL fails the run instead of skipping its tests.
REQUIRE_POSTGRES = os.environ.get("TESTS_REQUIRE_POSTGRES") == "1"

# Dropping a test's PostgreSQL database (ending its connections, removing its files) takes half a second or
# more; nothing waits for it but the end of the session. One background thread drops them in turn, and
# wait_for_drops (called by tests/conftest.py when the session ends) fails the session if one failed.
_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")
_drops: list[Future[None]] = []


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'news.db'}"
        return
    with _postgres_database() as url:
        yield url


@contextmanager
def copied_database(url: str, tmp_path: Path) -> Iterator[str]:
    """A new database of the same kind holding what the database at `url` holds now: a SQLite file made by
    SQLite's backup API (whatever its write-ahead log holds included), or a PostgreSQL database created
    from it as a template, dropped afterwards. For a run's database once the run is over: PostgreSQL copies
    only a database nobody is connected to, so the connections still open to it are ended first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        copy = tmp_path / f"copy-{uuid.uuid4().hex[:12]}.db"
        source, target = sqlite3.connect(parsed.database), sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        yield f"sqlite:///{copy}"
        return
    with _postgres_database(template=parsed.database) as copy_url:
        yield copy_url


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"newsetl_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            if template is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :template AND pid <> pg_backend_pid()"
                    ),
                    {"template": template},
                )  # PostgreSQL waits (up to 5 s) for those connections to be gone before it copies
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    except OperationalError as error:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL is not reachable: {error.orig}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _drops.append(_dropper.submit(_drop, admin, name))


def _drop(admin: Engine, name: str) -> None:
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def wait_for_drops() -> None:
    """Wait for every database drop started so far; raise the first failure."""
    while _drops:
        _drops.pop(0).result()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the schema."""
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in Base.metadata.tables.items()
        }


# Tables that record each attempt (one more row every run) rather than the data a run converges to.
BOOKKEEPING_TABLES = frozenset({"runs", "feed_fetches", "page_fetches"})


def data_counts(engine: Engine) -> dict[str, int]:
    return {name: n for name, n in row_counts(engine).items() if name not in BOOKKEEPING_TABLES}
