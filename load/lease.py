"""Keeping a run's lock alive while the run works, from a thread of its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from newsetl.load.locks import LockLost, release_lock, renew_lock

logger = logging.getLogger(__name__)

# A killed run blocks the next one for at most this long; a live one renews it three times per lease, so a
# slow batch (extraction deadlines, politeness delays) never lets it lapse while the run is still working.
RUN_LEASE = timedelta(minutes=3)
RENEW_EVERY = RUN_LEASE / 3


class LeaseKeeper:
    """Renews `name` for `run_id` every RENEW_EVERY until the block ends, then releases it.

    The run calls `ensure_held()` between batches: once a renewal finds the lock taken by another run, or
    no renewal has succeeded for a whole lease (the database was unreachable), it raises LockLost there
    rather than let two runs work on the same feeds. Each write transaction checks again (`fence`).
    """

    def __init__(self, engine: Engine, name: str, run_id: int, renew_every: timedelta = RENEW_EVERY) -> None:
        self._engine, self._name, self._run_id = engine, name, run_id
        self._renew_every = renew_every
        self._stop, self._lost = threading.Event(), threading.Event()
        self._renewed_at = time.monotonic()  # the lock was taken just before this keeper starts
        self._thread = threading.Thread(target=self._renew_until_stopped, name="newsetl-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._write(lambda session: release_lock(session, self._name, self._run_id))

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self._renew_every.total_seconds()):
            self._write(self._renew)

    def ensure_held(self) -> None:
        if self._lost.is_set():
            raise LockLost(f"run {self._run_id} lost {self._name} to another run after its lease lapsed")
        if time.monotonic() - self._renewed_at > RUN_LEASE.total_seconds():
            raise LockLost(f"run {self._run_id} could not renew {self._name} for a whole lease")

    def _renew(self, session: Session) -> None:
        if renew_lock(session, self._name, self._run_id, RUN_LEASE, datetime.now(UTC)):
            self._renewed_at = time.monotonic()
        else:
            logger.error("run %d no longer holds %s", self._run_id, self._name)
            self._lost.set()

    def _write(self, action: Callable[[Session], None]) -> None:
        try:
            with Session(self._engine) as session, session.begin():
                action(session)
        except SQLAlchemyError as error:  # the lease lapses by itself; the run's own outcome matters more
            logger.warning("lock %s for run %d not renewed or released: %s", self._name, self._run_id, error)
