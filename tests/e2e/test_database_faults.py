"""The database failing under a run: PostgreSQL restarted or down for long, SQLite's write lock held by
another process, the disk full. A run rides out a fault shorter than NEWSETL_DB_RETRY_SECONDS; a longer one
fails it cleanly (exit 1, one line that says why), keeps what it loaded, and the next run catches up.

Each test starts `newsetl run` as a process over the local site, one page per batch, and holds one page
(`HELD`) until the test lets it go: the run then sits between two batch transactions, which is when the
test breaks the database.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleEntity, ArticleTopic, FeedItem, PageFetch, Run, RunLock
from tests.databases import data_counts, fresh_database
from tests.e2e.conftest import run_flow, write_feeds_file
from tests.localserver import LocalServer, Response
from tests.pgcluster import PgCluster, pg_cluster_fixture

pg_cluster = pg_cluster_fixture()

HELD = "/hostages.html"  # listed after other pages: a batch or more is loaded when the run asks for it
HOLD_AT_MOST = 90.0  # seconds a held page waits for the test before it is served anyway
RETRY_WARNING = "database unavailable"  # what load.db logs before each new try


class HeldPage:
    """A route that answers only once the test says `go()`; `reached` is set when the run asks for it."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.reached = threading.Event()
        self._go = threading.Event()

    def go(self) -> None:
        self._go.set()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        self.reached.set()
        self._go.wait(HOLD_AT_MOST)
        handler.send_response(self.response.status)
        for name, value in self.response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(self.response.body)))
        handler.end_headers()
        handler.wfile.write(self.response.body)


@dataclass
class RunningRun:
    """`newsetl run` started as a process, its output going to files (a pipe left unread could fill)."""

    process: subprocess.Popen[bytes]
    stderr_path: Path
    feeds: Path
    held: HeldPage

    def wait_for_held_page(self) -> None:
        deadline = time.monotonic() + 120
        while not self.held.reached.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the run never asked for {HELD}:\n{self.log_lines()}")

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the run did not end in {timeout} s:\n{self.log_lines()}") from None

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the run never logged {text!r}:\n{self.log_lines()}")
            time.sleep(0.05)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> str:
        """The run's log lines, tracebacks left out: what to quote when it did not do what it should."""
        lines = self.stderr().splitlines()
        return "\n".join(line for line in lines if line[:2].isdigit() or line.startswith("newsetl:"))

    def failure_line(self) -> str:
        lines = [line for line in self.stderr().splitlines() if line.startswith("newsetl: the run failed")]
        assert len(lines) == 1, f"expected one failure line:\n{self.log_lines()}"
        return lines[0]


@pytest.fixture
def start_run(site: LocalServer, tmp_path: Path, prefect_api: str) -> Iterator[Callable[..., RunningRun]]:
    """start_run(database_url, **settings): `newsetl run` over the site, one page per batch, `HELD` held;
    settings are NEWSETL_* variables in lower case. Runs still going at the end are killed."""
    started: list[RunningRun] = []

    def start(database_url: str, **settings: str) -> RunningRun:
        page = site.routes[HELD]
        assert isinstance(page, Response)
        held = site.routes[HELD] = HeldPage(page)
        feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
        env = {**os.environ, "PREFECT_API_URL": prefect_api, "NEWSETL_BATCH_SIZE": "1"}
        env.update({f"NEWSETL_{name.upper()}": value for name, value in settings.items()})
        stderr_path = tmp_path / f"run-{len(started)}.stderr"
        command = ["newsetl", "run", "--feeds", str(feeds), "--db", database_url]
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [*command, "--allow-network", "127.0.0.0/8"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        started.append(RunningRun(process, stderr_path, feeds, held))
        return started[-1]

    yield start
    for run in started:
        run.held.go()
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()


# --------------------------------------------------------------------------------- what the database holds


def _query(url: str, query):
    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return db.execute(query).all()
    finally:
        engine.dispose()


def _articles(url: str) -> list[tuple[str, str]]:
    return sorted(_query(url, select(Article.url, Article.outcome)))


def _runs(url: str) -> list[tuple[int, str, str | None]]:
    return sorted(_query(url, select(Run.id, Run.status, Run.error)))


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        return data_counts(engine)
    finally:
        engine.dispose()


def _per_article(url: str) -> dict[str, tuple[str, int, int, int, int]]:
    """Each stored article by its URL's path (the same whichever port the site listens on): its outcome and
    how many page fetches, feed links, entities and topics it has."""

    def count(table, column):
        return select(func.count()).select_from(table).where(column == Article.id).scalar_subquery()

    rows = _query(
        url,
        select(
            Article.url,
            Article.outcome,
            count(PageFetch, PageFetch.article_id),
            count(FeedItem, FeedItem.article_id),
            count(ArticleEntity, ArticleEntity.article_id),
            count(ArticleTopic, ArticleTopic.article_id),
        ),
    )
    # The shared story is stored under the URL of whichever feed was polled first: its path is the same.
    return {urlsplit(article_url).path: tuple(rest) for article_url, *rest in rows}


@dataclass(frozen=True)
class CleanRun:
    counts: dict[str, int]
    articles: dict[str, tuple[str, int, int, int, int]]


_clean: list[CleanRun] = []


def _clean_run(feeds: Path, tmp_path: Path) -> CleanRun:
    """One clean run of the site into a fresh SQLite; the same for every test, whichever port its site
    listens on, so it is made once."""
    if not _clean:
        folder = tmp_path / "clean"
        folder.mkdir()
        with fresh_database("sqlite", folder) as clean_url:
            run_flow(clean_url, feeds_file=str(feeds))
            _clean.append(CleanRun(_counts(clean_url), _per_article(clean_url)))
    return _clean[0]


def _assert_whole_batches(url: str, feeds: Path, tmp_path: Path) -> None:
    """Every stored article came with the rest of its batch: one page fetch per attempt, and the feed links,
    entities and topics a clean run gives it. A half-written batch would leave some of them out."""
    clean = _clean_run(feeds, tmp_path).articles
    for path, (outcome, fetches, links, entities, topics) in _per_article(url).items():
        assert fetches >= 1, f"{path}: no page fetch"
        assert (outcome, links, entities, topics) == (clean[path][0], *clean[path][2:]), (
            f"{path}: (outcome, links, entities, topics) differ from a clean run's {clean[path]}"
        )


def _assert_converged(url: str, feeds: Path, tmp_path: Path) -> None:
    clean = _clean_run(feeds, tmp_path)
    assert _counts(url) == clean.counts
    assert {path: (row[0], *row[2:]) for path, row in _per_article(url).items()} == {
        path: (row[0], *row[2:]) for path, row in clean.articles.items()
    }


def _lapse_the_lease(url: str) -> None:
    """What RUN_LEASE (3 minutes) of waiting would do for the lock of a run that could not release it."""
    engine = make_engine(url)
    try:
        with engine.begin() as db:
            db.execute(update(RunLock).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        engine.dispose()


def _assert_the_next_run_waits_for_the_lease_then_catches_up(url: str, feeds: Path, tmp_path: Path) -> None:
    """A run that could write nothing more after its failure (the fault outlasted it) kept its lock, and its
    row still says "running": the next run is refused until the lease lapses, and once it has, catches up
    (the batch that failed is not lost: the failed run stored no feed validators)."""
    assert [status for _, status, _ in _runs(url)] == ["running"]
    refused = run_flow(url, feeds_file=str(feeds))
    assert "run 1 holds ingest:0/1" in str(refused["skipped_reason"])
    _lapse_the_lease(url)
    rerun = run_flow(url, feeds_file=str(feeds))
    assert rerun["skipped_reason"] is None, rerun["skipped_reason"]
    assert [status for _, status, _ in _runs(url)] == ["running", "skipped", "completed"]
    _assert_converged(url, feeds, tmp_path)


# ------------------------------------------------------------------------------------------- PostgreSQL


def _seconds_given_up_after(line: str) -> int:
    """How long the failure message says the database stayed unreachable: the whole budget, at least."""
    found = re.search(r"stayed unreachable or locked for (\d+) s", line)
    assert found, line
    return int(found.group(1))


@pytest.mark.postgres
def test_a_run_rides_out_a_postgresql_restart(start_run, pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database("news")
    run = start_run(url, db_retry_seconds="30")
    run.wait_for_held_page()
    assert _articles(url), "no batch was loaded before the held page"

    pg_cluster.stop("fast")
    # Let the page go while the server is down, so the run meets the outage with its next batch (once the
    # server is back, pool_pre_ping alone would replace the dead connections: no retry needed).
    run.held.go()
    time.sleep(2)
    pg_cluster.start()
    returncode = run.wait()

    assert returncode == 0, run.log_lines()
    assert f"loading a batch of pages: {RETRY_WARNING}" in run.stderr(), "the run never met the outage"
    assert [status for _, status, _ in _runs(url)] == ["completed"]
    _assert_converged(url, run.feeds, tmp_path)


@pytest.mark.postgres
def test_postgresql_down_past_the_retry_budget_fails_the_run_and_the_next_run_catches_up(
    start_run, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.create_database("news")
    budget = 3
    run = start_run(url, db_retry_seconds=str(budget))
    run.wait_for_held_page()
    loaded = _articles(url)
    assert loaded, "no batch was loaded before the held page"

    pg_cluster.stop("fast")
    run.held.go()
    released = time.monotonic()
    returncode = run.wait(timeout=60)
    took = time.monotonic() - released
    # Down until the run has given up: an outage past its budget. (It waited out 10 s before starting
    # again, which changed nothing: the run had ended, and the next run meets a server that is up.)
    pg_cluster.start()

    assert returncode == 1, run.log_lines()
    line = run.failure_line()
    assert "DatabaseUnavailable: loading a batch of pages" in line, line
    assert _seconds_given_up_after(line) >= budget, line
    assert f"loading a batch of pages: {RETRY_WARNING}" in run.stderr(), "given up without trying again"
    assert took < 3 * budget + 10, f"the run took {took:.1f} s to give up"  # seconds, not minutes
    assert _articles(url) == loaded  # the batches loaded before the outage stay, whole
    _assert_whole_batches(url, run.feeds, tmp_path)
    _assert_the_next_run_waits_for_the_lease_then_catches_up(url, run.feeds, tmp_path)


# --------------------------------------------------------------------------------------------- SQLite


@contextmanager
def _write_lock(path: Path):
    """SQLite's write lock on `path`, held by a connection of the test's own (not the run's process)."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_sqlite_locked_past_the_retry_budget_fails_the_run_and_the_next_run_catches_up(
    start_run, tmp_path: Path
) -> None:
    path = tmp_path / "news.db"
    url = f"sqlite:///{path}"
    budget = 4  # one statement waits 1 s for the lock (a quarter of it)
    run = start_run(url, db_retry_seconds=str(budget))
    run.wait_for_held_page()
    loaded = _articles(url)
    assert loaded, "no batch was loaded before the held page"

    with _write_lock(path):  # held until the run has ended: longer than its budget
        run.held.go()
        locked = time.monotonic()
        returncode = run.wait(timeout=60)
        took = time.monotonic() - locked

    assert returncode == 1, run.log_lines()
    line = run.failure_line()
    assert "DatabaseUnavailable: loading a batch of pages" in line, line
    assert _seconds_given_up_after(line) >= budget and "(OperationalError: database is locked)" in line, line
    assert f"loading a batch of pages: {RETRY_WARNING}" in run.stderr(), "given up without trying again"
    assert budget <= took < 3 * budget + 10, f"the run ended {took:.1f} s after the lock was taken"
    assert _articles(url) == loaded
    _assert_whole_batches(url, run.feeds, tmp_path)
    _assert_the_next_run_waits_for_the_lease_then_catches_up(url, run.feeds, tmp_path)


def test_a_run_waits_out_a_sqlite_lock_shorter_than_the_retry_budget(start_run, tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    url = f"sqlite:///{path}"
    # Budget 8 s: one statement waits 2 s for the lock (a quarter), so a lock held 5 s outlasts the first
    # wait (by 3 s, less the moments the run takes to reach its write) and is only outlasted by trying
    # again, well within the budget. (Budget 20 s and a lock of 8 s prove the same at 3 s a test more.)
    run = start_run(url, db_retry_seconds="8")
    run.wait_for_held_page()

    with _write_lock(path):
        run.held.go()
        time.sleep(5)
    returncode = run.wait()

    assert returncode == 0, run.log_lines()
    assert f"loading a batch of pages: {RETRY_WARNING}" in run.stderr(), "the run never met the lock"
    assert [status for _, status, _ in _runs(url)] == ["completed"]
    _assert_converged(url, run.feeds, tmp_path)


# ----------------------------------------------------------------------------------------- a full disk


@contextmanager
def _small_disk(folder: Path, size: str):
    """A tmpfs of `size` mounted on `folder`. Mounting needs root: in CI (run as root) a failure to mount
    fails the test; a developer's run as another user skips it, as PostgreSQL tests skip without a server."""
    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("mounting the small disk this test fills needs root (CI runs it as root)")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"could not mount a tmpfs on {folder}, which this test fills (it needs root, or CAP_SYS_ADMIN): "
            f"mount exited {mounted.returncode}: {mounted.stderr.strip()}"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def _fill(path: Path, leave: int = 0) -> None:
    """Write `path` until its file system has only `leave` bytes left (a multiple of its block size)."""
    with path.open("wb", buffering=0) as filler:
        for chunk in (1 << 20, 1 << 12, 1):
            with suppress(OSError):
                while True:
                    filler.write(b"\0" * chunk)
    os.truncate(path, path.stat().st_size - leave)
    free = os.statvfs(path)
    assert free.f_bavail * free.f_frsize == leave


# Room for what a failed run writes (its feed outcomes, its end, letting go of its lock), not for a batch.
# Measured on a 4 KiB-page tmpfs: the failed run's writes need 28 KB, the held page's batch 76 KB (it
# adds some 15 frames of 4 KiB to SQLite's write-ahead log).
ROOM_FOR_BOOKKEEPING_ONLY = 48 * 1024


def _run_into_a_full_disk(start_run, tmp_path: Path, room: int) -> tuple[RunningRun, str]:
    """A run on a small tmpfs that fills up, but for `room` bytes, while the run waits for `HELD`: the
    schema and the batches before fit, that page's does not. It fails at once, saying what to do, and
    keeps its earlier batches whole. Returns the run and the database URL, the disk still mounted."""
    disk = tmp_path / "disk"
    url = f"sqlite:///{disk / 'news.db'}"
    run = start_run(url, db_retry_seconds="30")
    run.wait_for_held_page()
    loaded = _articles(url)
    assert loaded, "no batch was loaded before the held page"

    _fill(disk / "filler", leave=room)
    run.held.go()
    released = time.monotonic()
    returncode = run.wait()
    took = time.monotonic() - released

    assert returncode == 1, run.log_lines()
    line = run.failure_line()
    assert "DatabaseFull: loading a batch of pages: the database is full" in line, line
    assert "its last transaction was rolled back. Free disk space" in line, line
    assert RETRY_WARNING not in run.stderr(), "a full disk was retried"
    assert took < 10, f"the run took {took:.1f} s to give up on a full disk"
    assert _articles(url) == loaded
    _assert_whole_batches(url, run.feeds, tmp_path)
    return run, url


def test_a_disk_without_room_for_a_batch_fails_the_run_at_once_and_whole(start_run, tmp_path: Path) -> None:
    with _small_disk(tmp_path / "disk", "16m") as disk:
        run, url = _run_into_a_full_disk(start_run, tmp_path, room=ROOM_FOR_BOOKKEEPING_ONLY)
        [(_, status, error)] = _runs(url)
        assert status == "failed" and str(error).startswith("DatabaseFull: loading a batch of pages"), error

        (disk / "filler").unlink()  # what the message asks for
        rerun = run_flow(url, feeds_file=str(run.feeds))  # the failed run let go of its lock
        assert rerun["skipped_reason"] is None, rerun["skipped_reason"]
        _assert_converged(url, run.feeds, tmp_path)


def test_a_disk_without_one_byte_left_fails_the_run_and_the_next_run_catches_up(
    start_run, tmp_path: Path
) -> None:
    with _small_disk(tmp_path / "disk", "16m") as disk:
        run, url = _run_into_a_full_disk(start_run, tmp_path, room=0)
        # Not one byte left to mark the run failed or to release its lock: the run's log says so ("could not
        # record the failure of run 1", "lock ingest:0/1 for run 1 not renewed or released").
        assert "could not record the failure of run 1" in run.stderr()

        (disk / "filler").unlink()
        _assert_the_next_run_waits_for_the_lease_then_catches_up(url, run.feeds, tmp_path)
