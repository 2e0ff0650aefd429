"""The bounded retry of database operations (load.db.retrying) against real SQLite and PostgreSQL: what is
tried again, for how long, and what is never retried."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from newsetl.load.db import DatabaseUnavailable, make_engine, read_only, retrying
from tests.databases import POSTGRES_ADMIN_URL


def _sqlite(tmp_path: Path, busy: float = 0.2):
    engine = make_engine(f"sqlite:///{tmp_path / 'news.db'}", sqlite_busy_timeout=busy)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


def _write(engine) -> None:
    with engine.begin() as db:
        db.execute(text("INSERT INTO t VALUES (1)"))


def _hold_lock(path: Path, seconds: float) -> threading.Thread:
    """Another connection takes SQLite's write lock for `seconds`, as another process would."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    return thread


def test_a_lock_released_within_the_budget_is_waited_out(tmp_path) -> None:
    engine = _sqlite(tmp_path)
    holder = _hold_lock(tmp_path / "news.db", 1.0)

    retrying(lambda: _write(engine), budget_seconds=10, what="a write")

    holder.join()
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_a_lock_held_past_the_budget_fails_cleanly_in_about_the_budget(tmp_path) -> None:
    engine = _sqlite(tmp_path)
    holder = _hold_lock(tmp_path / "news.db", 4.0)
    started = time.monotonic()

    with pytest.raises(DatabaseUnavailable, match="unreachable or locked for 2 s"):
        retrying(lambda: _write(engine), budget_seconds=2, what="a write")

    assert 1.5 < time.monotonic() - started < 3.5
    holder.join()


def test_a_reader_takes_no_write_lock_on_sqlite(tmp_path) -> None:
    engine = _sqlite(tmp_path, busy=0.1)
    with Session(read_only(engine)) as reader:
        reader.execute(text("SELECT count(*) FROM t")).scalar_one()  # a transaction is open, and reads
        _write(engine)  # would wait for the reader, and fail after 0.1 s, had it taken the lock


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_never_retried() -> None:
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/newsetl_no_such_database")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="does not exist"):
        retrying(lambda: engine.connect().close(), budget_seconds=30, what="a connection")
    assert time.monotonic() - started < 5
