"""The run lock on both databases: one holder at a time, a lapsed lease can be taken over."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsetl.load.db import make_engine
from newsetl.load.lease import LeaseKeeper
from newsetl.load.locks import LockLost, acquire_lock, fence, release_lock, renew_lock
from newsetl.load.migrate import upgrade
from newsetl.load.models import RunLock

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LEASE = timedelta(minutes=30)


def _engine(database_url: str):
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def _acquire(engine, run_id: int, now: datetime = NOW):
    with Session(engine) as session, session.begin():
        return acquire_lock(session, "ingest:0/1", run_id, LEASE, now)


def test_one_holder_at_a_time_until_release(database_url) -> None:
    engine = _engine(database_url)
    assert _acquire(engine, 1) is None
    holder = _acquire(engine, 2)
    assert holder is not None and holder.run_id == 1 and holder.expires_at == NOW + LEASE
    with Session(engine) as session, session.begin():
        release_lock(session, "ingest:0/1", 1)
    assert _acquire(engine, 2) is None


def test_a_lapsed_lease_is_taken_over_and_renewal_keeps_it(database_url) -> None:
    engine = _engine(database_url)
    assert _acquire(engine, 1) is None
    with Session(engine) as session, session.begin():
        renew_lock(session, "ingest:0/1", 1, LEASE, NOW + timedelta(minutes=20))
    assert _acquire(engine, 2, NOW + timedelta(minutes=40)) is not None  # renewed until 12:50
    assert _acquire(engine, 2, NOW + timedelta(minutes=51)) is None  # the killed run stopped renewing


def test_two_runs_racing_for_the_lock_never_both_win(database_url) -> None:
    engine = _engine(database_url)

    def race(run_id: int, start: Barrier, now: datetime) -> bool:
        start.wait()
        return _acquire(engine, run_id, now) is None

    for attempt in range(5):  # each attempt a day later: the previous winner's lease has lapsed
        start, now = Barrier(2), NOW + timedelta(days=attempt)
        with ThreadPoolExecutor(2) as pool:
            winners = [
                pool.submit(race, run_id, start, now) for run_id in (2 * attempt + 10, 2 * attempt + 11)
            ]
            assert [w.result() for w in winners].count(True) == 1


def test_renewal_reports_a_lock_taken_over_by_another_run(database_url) -> None:
    engine = _engine(database_url)
    assert _acquire(engine, 1) is None
    assert _acquire(engine, 2, NOW + LEASE * 2) is None  # run 1 stalled past its lease
    with Session(engine) as session, session.begin():
        assert not renew_lock(session, "ingest:0/1", 1, LEASE, NOW + LEASE * 2)
        assert renew_lock(session, "ingest:0/1", 2, LEASE, NOW + LEASE * 2)


def test_a_run_that_lost_its_lease_stops_and_leaves_the_new_holder_its_lock(database_url) -> None:
    engine = _engine(database_url)
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        assert acquire_lock(session, "ingest:0/1", 1, timedelta(minutes=3), now) is None
    with LeaseKeeper(engine, "ingest:0/1", 1, renew_every=timedelta(seconds=0.05)) as keeper:
        keeper.ensure_held()  # still ours
        with Session(engine) as session, session.begin():  # run 1 looked stalled; run 2 took over
            assert (
                acquire_lock(session, "ingest:0/1", 2, timedelta(minutes=3), now + timedelta(hours=1)) is None
            )
        with pytest.raises(LockLost, match="run 1 lost ingest:0/1"):
            for _ in range(200):
                keeper.ensure_held()
                time.sleep(0.01)  # the keeper's next renewal finds run 2 holding the lock
    with engine.connect() as db:  # leaving the block released nothing of run 2's
        assert db.execute(select(RunLock.run_id)).scalars().all() == [2]


def test_the_fence_passes_the_holder_only(database_url) -> None:
    engine = _engine(database_url)
    assert _acquire(engine, 1) is None
    with Session(engine) as session, session.begin():
        fence(session, "ingest:0/1", 1)
        fence(session, None, 7)  # a run that takes no lock
        with pytest.raises(LockLost, match="run 2 lost ingest:0/1 to run 1"):
            fence(session, "ingest:0/1", 2)
        with pytest.raises(LockLost, match="to nobody"):
            fence(session, "ingest:1/2", 1)
