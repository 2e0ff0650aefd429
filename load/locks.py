"""A database-level guard so that two ingest runs of the same feeds never overlap.

Prefect's deployment concurrency limit covers runs started through Prefect, but not `newsetl run` typed by
hand, and a crashed run can hold Prefect's slot until its lease expires. This lease lives in the news
database itself: taken with one atomic upsert (so two runs racing for it cannot both win), renewed every
minute, released at the end, and simply lapsing when a killed run stops renewing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from load.models import RunLock
from load.store import dialect_insert


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
    return renewed.rowcount > 0


def release_lock(session: Session, name: str, run_id: int) -> None:
    session.execute(delete(RunLock).where(RunLock.name == name, RunLock.run_id == run_id))
