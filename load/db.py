"""Engines that behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# How long a writer waits for SQLite's lock held by another process before giving up (FAULTS.md row 35):
# long enough to outlast another run's batch transaction, short enough to fail a stuck run visibly.
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseUrlError(ValueError):
    """The database URL cannot be used (bad syntax, unknown driver)."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    try:
        parsed = make_url(url)
        engine = create_engine(parsed, pool_pre_ping=True, **_dialect_options(parsed.get_backend_name()))
    except Exception as error:  # SQLAlchemy raises several unrelated classes for a bad URL or driver
        raise DatabaseUrlError(f"{safe_url(url)!r}: {error}") from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _dialect_options(backend: str) -> dict[str, Any]:
    if backend == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    return {}


def _configure_sqlite(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parsable: show no part that could hold a secret
        return url.split("@")[-1] if "@" in url else url
