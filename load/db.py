"""Engines that behave alike on SQLite and PostgreSQL, and the bounded retry of a database operation.

Errors a run may meet, by what the caller should do:

- `DatabaseUnavailable`: the database could not be reached, or stayed locked, for the whole retry budget
  (PostgreSQL restarting, the network gone, another process holding SQLite's write lock). The run fails;
  what it loaded stays, and the next run catches up.
- `DatabaseFull`: the disk (or SQLite's page limit) is full. Retrying cannot help: the run fails at once,
  its transaction rolled back whole, and the message says what to free.
- A `DataError` or `IntegrityError` belongs to one row: load/store.py retries its batch row by row.
- Anything else is a bug and propagates as it is.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from newsetl.transform.errors import ConfigError, RunError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long one SQLite statement waits for the write lock held by another process before it fails: long
# enough to outlast another run's batch transaction, short enough to fail a stuck run visibly.
SQLITE_BUSY_TIMEOUT = 30.0
# First and longest pause between two tries of a database operation (doubling in between).
FIRST_RETRY_PAUSE = 0.5
LONGEST_RETRY_PAUSE = 10.0
# PostgreSQL errors that say "not now" rather than "not this": connection exceptions (class 08), the server
# shutting down or starting up (57P01-57P03), too many connections (53300), and a transaction that lost a
# serialization conflict or a deadlock (40001, 40P01), which is to be tried again whole.
_PG_TRANSIENT_CLASSES = ("08",)
_PG_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
_PG_DISK_FULL = "53100"
# A connection the server refused for good: retrying cannot create the database or the role.
_PG_REFUSED_FOR_GOOD = re.compile(
    r"FATAL:.*(does not exist|authentication failed|no pg_hba\.conf entry|permission denied)", re.DOTALL
)
_SQLITE_TRANSIENT_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED")  # extended codes too: SQLITE_BUSY_SNAPSHOT
_SQLITE_FULL = "SQLITE_FULL"
# libpq's own limits, so that no single attempt outlasts the retry budget: a connect to an address that
# swallows packets, or a server gone without a word on an open connection, would otherwise hang for minutes.
_PG_CONNECT_ARGS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                    "keepalives_count": 3}  # fmt: skip
# Execution option of an engine whose transactions only read: on SQLite they begin deferred, so they take
# no write lock and wait for no writer (WAL lets them read beside it).
READ_ONLY = "newsetl_read_only"


class DatabaseUrlError(ConfigError):
    """The database URL cannot be used (bad syntax, unknown driver)."""


class DatabaseUnavailable(RunError):
    """The database stayed unreachable or locked for the whole retry budget."""


class DatabaseFull(RunError):
    """The database's disk, or SQLite's page limit, is full."""


def make_engine(url: str, *, sqlite_busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout, enforced foreign keys and real transactions."""
    try:
        parsed = make_url(url)
        options = _dialect_options(parsed.get_backend_name(), sqlite_busy_timeout)
        engine = create_engine(parsed, pool_pre_ping=True, **options)
    except Exception as error:  # SQLAlchemy raises several unrelated classes for a bad URL or driver
        raise DatabaseUrlError(f"{safe_url(url)!r}: {error}") from error
    if engine.dialect.name == "sqlite":
        engine.dialect.statement_compiler = _SQLiteCompiler
        milliseconds = round(sqlite_busy_timeout * 1000)
        event.listen(engine, "connect", lambda dbapi, _record: _configure_sqlite(dbapi, milliseconds))
        event.listen(engine, "begin", _begin_immediate)
    return engine


class _SQLiteCompiler(SQLiteCompiler):
    """SQLite's compiler, placing a query's table hints (`Select.with_hint(..., dialect_name="sqlite")`)
    after the table name, where SQLite reads `INDEXED BY index`; SQLAlchemy's own drops them."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, when it does not exist (connecting would create it empty); else None.

    Commands that only read use it to say "no database here" rather than answer from a new, empty one.
    """
    try:
        parsed = make_url(url)
    except Exception:  # an unusable URL is make_engine's to report
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _dialect_options(backend: str, busy_timeout: float) -> dict[str, Any]:
    if backend == "sqlite":
        return {"connect_args": {"timeout": busy_timeout}}
    if backend == "postgresql":
        return {"connect_args": dict(_PG_CONNECT_ARGS)}
    return {}


def read_only(engine: Engine) -> Engine:
    """The same engine, for transactions that only read (see READ_ONLY)."""
    return engine.execution_options(**{READ_ONLY: True})


def _configure_sqlite(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    # Transactions are begun by `_begin_immediate`, not by the driver: pysqlite would begin one only at
    # the first INSERT/UPDATE, leaving earlier reads and SAVEPOINTs outside it (a RELEASE would commit).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, where the busy timeout waits for it; a deferred transaction
    # that read first would fail at once, without waiting, when it tried to write after another writer.
    # Transactions known to only read begin deferred, and never hold up a writer.
    read = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parsable: show no part that could hold a secret
        return url.split("@")[-1] if "@" in url else url


# ---------------------------------------------------------------- retry


def retrying(operation: Callable[[], T], budget_seconds: float, what: str) -> T:
    """`operation()`, tried again with doubling pauses while the database is unreachable or locked, for
    at most `budget_seconds` in all. The operation must be a whole transaction, so a retry repeats it whole.

    Raises DatabaseFull at once on a full disk, DatabaseUnavailable once the budget is spent.
    """
    started = time.monotonic()
    give_up_at = started + budget_seconds
    pause = FIRST_RETRY_PAUSE
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError) as error:
            _raise_unless_transient(error, what)
            left = give_up_at - time.monotonic()
            if left <= 0:
                raise DatabaseUnavailable(
                    f"{what}: the database stayed unreachable or locked for "
                    f"{time.monotonic() - started:.0f} s ({_reason(error)}); check that it is up and that no "
                    "other process holds it, then run again (NEWSETL_DB_RETRY_SECONDS sets how long to keep "
                    "trying)"
                ) from error
            logger.warning(
                "%s: database unavailable (%s); trying again in %.1f s", what, _reason(error), pause
            )
            time.sleep(min(pause, left))  # the last try is made at the end of the budget, not before it
            pause = min(pause * 2, LONGEST_RETRY_PAUSE)


def _raise_unless_transient(error: DBAPIError, what: str) -> None:
    if is_disk_full(error):
        raise DatabaseFull(
            f"{what}: the database is full ({_reason(error)}); its last transaction was rolled back. "
            "Free disk space (or raise the database's size limit) and run again"
        ) from error
    if not is_transient(error):
        raise error


def is_disk_full(error: DBAPIError) -> bool:
    original = error.orig
    return (
        getattr(original, "sqlite_errorname", None) == _SQLITE_FULL
        or getattr(original, "sqlstate", None) == _PG_DISK_FULL
    )


def is_transient(error: DBAPIError) -> bool:
    """Whether trying the same transaction again later may succeed: a lost or refused connection, a server
    shutting down or starting, SQLite's lock held by another process."""
    original = error.orig
    sqlite_name = getattr(original, "sqlite_errorname", None)
    if sqlite_name is not None:
        return sqlite_name.startswith(_SQLITE_TRANSIENT_PREFIXES)
    if _PG_REFUSED_FOR_GOOD.search(str(original)):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    sqlstate = getattr(original, "sqlstate", None)
    # No SQLSTATE: the client library failed before the server answered (refused, reset, timed out).
    return sqlstate is None or sqlstate.startswith(_PG_TRANSIENT_CLASSES) or sqlstate in _PG_TRANSIENT_STATES


def _reason(error: DBAPIError) -> str:
    first_line = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else ""
    return f"{type(error.orig).__name__}: {first_line}"[:300]
