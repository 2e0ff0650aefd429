"""Worker processes for the CPU stages (HTML decoding, extraction, tagging), each killable at a deadline.

A pathological page (a million elements, a huge text node) can spin trafilatura or spaCy for minutes inside
C code, which no thread timeout can interrupt (a 0.2 s Prefect task timeout fired after 1.8 s). So each
page runs in a worker process that the parent kills when the page overruns `deadline`; a fresh worker
takes its place and the run goes on. Each worker loads the spaCy pipeline once, when it starts.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from newsetl.extract.errors import RunError

# How long a new worker may take to import its libraries and load the spaCy pipeline.
WORKER_STARTUP_SECONDS = 180.0
_READY = "ready"


class WorkerError(RunError):
    """A worker raised an exception nobody expected: the run must fail loudly, not record an outcome."""


@dataclass(frozen=True, slots=True)
class Overrun:
    """A job killed at its deadline, or whose worker died under it (`crashed`)."""

    seconds: float
    crashed: bool = False


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    job: int | None = None
    started: float = 0.0
    born: float = 0.0


class KillablePool:
    """Runs `handler(item)` for each item in `workers` processes built by `setup(*setup_args)`.

    `setup` returns the handler inside the worker, so heavy state (a spaCy model) is built once per process.
    """

    def __init__(
        self,
        setup: Callable[..., Callable[[Any], Any]],
        setup_args: tuple[Any, ...],
        workers: int,
        deadline: float,
    ) -> None:
        self._setup, self._setup_args = setup, setup_args
        self._size, self._deadline = max(1, workers), deadline
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe beside Prefect's threads
        self._workers: list[_Worker] = []

    def __enter__(self) -> KillablePool:
        self._workers = [self._spawn() for _ in range(self._size)]
        return self

    def __exit__(self, *_exc: object) -> None:
        for worker in self._workers:
            self._stop(worker)
        self._workers = []

    def map(self, items: Sequence[Any]) -> list[Any]:
        """Results in item order; an item that overran its deadline gets an `Overrun`."""
        results: dict[int, Any] = {}
        pending = deque(range(len(items)))
        while len(results) < len(items):
            self._dispatch(items, pending)
            self._collect(results, timeout=self._next_wakeup())
            self._reap_overruns(results, pending)
        return [results[i] for i in range(len(items))]

    def _dispatch(self, items: Sequence[Any], pending: deque[int]) -> None:
        for worker in self._workers:
            if worker.ready and worker.job is None and pending:
                worker.job, worker.started = pending.popleft(), time.monotonic()
                worker.conn.send(items[worker.job])

    def _collect(self, results: dict[int, Any], timeout: float) -> None:
        for conn in wait([w.conn for w in self._workers], timeout=timeout):
            worker = next(w for w in self._workers if w.conn is conn)
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                self._replace_dead(worker, results)
                continue
            self._accept(worker, kind, payload, results)

    def _accept(self, worker: _Worker, kind: str, payload: Any, results: dict[int, Any]) -> None:
        if kind == _READY:
            worker.ready = True
        elif kind == "error":
            raise WorkerError(payload)
        else:
            assert worker.job is not None
            results[worker.job] = payload
            worker.job = None

    def _reap_overruns(self, results: dict[int, Any], pending: deque[int]) -> None:
        now = time.monotonic()
        for index, worker in enumerate(self._workers):
            if worker.job is not None and now - worker.started > self._deadline:
                results[worker.job] = Overrun(now - worker.started)
                self._workers[index] = self._restart(worker)
            elif not worker.ready and now - worker.born > WORKER_STARTUP_SECONDS:
                raise WorkerError(f"a worker did not start within {WORKER_STARTUP_SECONDS:.0f} s")

    def _replace_dead(self, worker: _Worker, results: dict[int, Any]) -> None:
        if worker.job is None and not worker.ready:
            raise WorkerError(f"a worker died while starting (exit code {worker.process.exitcode})")
        if worker.job is not None:
            results[worker.job] = Overrun(time.monotonic() - worker.started, crashed=True)
        self._workers[self._workers.index(worker)] = self._restart(worker)

    def _next_wakeup(self) -> float:
        busy = [w.started + self._deadline for w in self._workers if w.job is not None]
        return max(0.05, min(busy) - time.monotonic()) if busy else 1.0

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child_end, self._setup, self._setup_args), daemon=True
        )
        process.start()
        child_end.close()
        return _Worker(process, parent_end, born=time.monotonic())

    def _restart(self, worker: _Worker) -> _Worker:
        self._stop(worker)
        return self._spawn()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()


def _worker_main(conn: Connection, setup: Callable[..., Callable[[Any], Any]], args: tuple[Any, ...]) -> None:
    try:
        handler = setup(*args)
        conn.send((_READY, None))
        for item in _receive(conn):
            conn.send(("result", handler(item)))
    except Exception:  # reported to the parent, which fails the run with the traceback
        conn.send(("error", traceback.format_exc()))


def _receive(conn: Connection) -> Iterable[Any]:
    while True:
        try:
            yield conn.recv()
        except EOFError:
            return
