"""A database-level guard so that two ingest runs of the same feeds never overlap.

Prefect's deployment concurrency limit covers runs started through Prefect, but not `newsetl run` typed by
hand, and a crashed run can hold Prefect's slot until its lease expires. This lease lives in the news
database itself: taken with one atomic upsert (so two runs racing for it cannot both win), renewed every
minute, released at the end, and simply lapsing when a killed run stops renewing it.

A run that stalls past its lease may find the lock taken over when it wakes up. Every write transaction of
a run therefore starts with `fence`: it checks the run still holds the lock, and locks the lock's row until
commit, so a takeover waits for the transaction instead of interleaving with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import CursorResult, Engine, delete, select, update
from sqlalchemy.orm import Session

from newsetl.load.db import read_only, retrying
from newsetl.load.models import RunLock
from newsetl.load.rows import dialect_insert
from newsetl.transform.errors import RunError

T = TypeVar("T")


class LockLost(RunError):
    """Another run took the lock after this run's lease lapsed: this run must stop before it overlaps."""


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock, and until when."""

    run_id: int | None
    expires_at: datetime


def acquire_lock(
    session: Session, name: str, run_id: int, lease: timedelta, now: datetime
) -> LockHolder | None:
    """Take `name` for `run_id` unless another run holds an unexpired lease; returns that holder, or None."""
    stmt = dialect_insert(session, RunLock).values(
        name=name, run_id=run_id, acquired_at=now, expires_at=now + lease
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"run_id": run_id, "acquired_at": now, "expires_at": now + lease},
        where=RunLock.expires_at < now,
    )
    if session.execute(stmt.returning(RunLock.run_id)).first() is not None:
        return None
    holder = session.execute(select(RunLock.run_id, RunLock.expires_at).where(RunLock.name == name)).one()
    return LockHolder(holder.run_id, holder.expires_at)


def renew_lock(session: Session, name: str, run_id: int, lease: timedelta, now: datetime) -> bool:
    """Extend the lease; False when `run_id` no longer holds it (it lapsed and another run took it)."""
    renewed = session.execute(
        update(RunLock).where(RunLock.name == name, RunLock.run_id == run_id).values(expires_at=now + lease)
    )
    return cast(CursorResult[object], renewed).rowcount > 0


def fence(session: Session, name: str | None, run_id: int) -> None:
    """First statement of a run's write transaction: LockLost unless `run_id` still holds `name` (None: the
    run takes no lock). Holds the lock's row until commit (PostgreSQL; SQLite has one writer at a time)."""
    if name is None:
        return
    query = select(RunLock.run_id).where(RunLock.name == name).with_for_update()
    holder = session.execute(query).scalar_one_or_none()
    if holder != run_id:
        taker = f"run {holder}" if holder else "nobody"
        raise LockLost(f"run {run_id} lost {name} to {taker}; it stops before writing more")


@dataclass(frozen=True, slots=True)
class RunWriter:
    """Where one run writes: every transaction it opens is fenced by the run's lock (None: no lock)."""

    engine: Engine
    run_id: int
    lock_name: str | None
    retry_seconds: float = 0.0  # how long `write` keeps trying while the database is unreachable or locked

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            fence(session, self.lock_name, self.run_id)
            yield session

    def write(self, work: Callable[[Session], T], what: str) -> T:
        """`work` in one fenced transaction, the whole transaction tried again while the database is
        unreachable or locked, for at most `retry_seconds` (then DatabaseUnavailable)."""

        def once() -> T:
            with self.transaction() as session:
                return work(session)

        return retrying(once, self.retry_seconds, what)

    def read(self, work: Callable[[Session], T], what: str) -> T:
        """`work` in one read-only transaction (no fence, no write lock), retried like `write`."""

        def once() -> T:
            with Session(read_only(self.engine)) as session:
                return work(session)

        return retrying(once, self.retry_seconds, what)

    def unfenced(self) -> RunWriter:
        """This run's writer without its lock: for recording how the run ended, after the lock is gone."""
        return replace(self, lock_name=None)


def release_lock(session: Session, name: str, run_id: int) -> None:
    session.execute(delete(RunLock).where(RunLock.name == name, RunLock.run_id == run_id))
