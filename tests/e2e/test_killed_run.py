"""A run killed halfway (SIGKILL, mid-batch) and started again ends with exactly the rows of a clean run;
a run stopped by SIGTERM says so, keeps its feed outcomes and lets go of its lock."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from newsetl.load.db import make_engine
from newsetl.load.models import Article, FeedFetch, Run, RunLock
from tests.databases import data_counts, fresh_database
from tests.e2e.conftest import run_flow, write_feeds_file
from tests.localserver import LocalServer, Response

PAGE_DELAY = 0.7  # seconds a page takes to arrive: time enough to kill the run between batches


def _slow(response: Response):
    def handle(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(PAGE_DELAY)
        handler.send_response(response.status)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)

    return handle


def _let_the_lease_lapse(url: str) -> None:
    """What RUN_LEASE minutes of waiting would do."""
    with make_engine(url).begin() as db:
        db.execute(update(RunLock).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))


def _articles(url: str) -> int:
    try:
        with make_engine(url).connect() as db:
            return db.execute(select(func.count()).select_from(Article)).scalar_one()
    except (OperationalError, ProgrammingError):  # schema not there yet
        return 0


def _outcomes(url: str) -> list[tuple[str, str]]:
    with make_engine(url).connect() as db:
        return sorted(db.execute(select(Article.url_key, Article.outcome)).all())


def _slow_run_loading(site: LocalServer, database_url: str, tmp_path, prefect_api: str, articles: int):
    """`newsetl run` over the fixture site with slow pages, one per batch, in its own process group, once
    it has loaded `articles` articles. Returns the process and the feeds file."""
    for path, route in list(site.routes.items()):
        if isinstance(route, Response) and ".html" in path:
            site.routes[path] = _slow(route)
    feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "NEWSETL_BATCH_SIZE": "1"}
    run = subprocess.Popen(
        ["newsetl", "run", "--feeds", str(feeds), "--db", database_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _articles(database_url) < articles and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    return run, feeds


def test_a_killed_run_rerun_converges_to_a_clean_run(
    site: LocalServer, database_url, tmp_path, prefect_api
) -> None:
    routes = dict(site.routes)
    killed, feeds = _slow_run_loading(site, database_url, tmp_path, prefect_api, articles=2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate()
    halfway = _articles(database_url)
    assert 2 <= halfway < 6, "the run was not killed halfway"
    # The pages were slow only so that the run could be killed between batches; the same pages, served at
    # once, for the runs that follow (the slow ones cost 0.7 s each, some ten of them).
    site.routes.update(routes)

    blocked = run_flow(database_url, feeds_file=str(feeds))
    assert "holds ingest:0/1" in blocked["skipped_reason"]  # the killed run's lease has not lapsed yet
    _let_the_lease_lapse(database_url)
    run_flow(database_url, feeds_file=str(feeds))

    (tmp_path / "clean").mkdir()
    with fresh_database("sqlite", tmp_path / "clean") as clean_url:
        run_flow(clean_url, feeds_file=str(feeds))
        assert data_counts(make_engine(database_url)) == data_counts(make_engine(clean_url))
        assert _outcomes(database_url) == _outcomes(clean_url)


def test_a_run_stopped_by_sigterm_is_recorded_cancelled_with_its_feed_outcomes(
    site: LocalServer, database_url, tmp_path, prefect_api
) -> None:
    stopped, _ = _slow_run_loading(site, database_url, tmp_path, prefect_api, articles=1)
    stopped.send_signal(signal.SIGTERM)
    _, errors = stopped.communicate(timeout=120)

    assert stopped.returncode != 0, errors
    with make_engine(database_url).connect() as db:
        status, error = db.execute(select(Run.status, Run.error)).one()
        assert status == "cancelled", f"{error}\n{errors}"
        assert db.execute(select(func.count()).select_from(FeedFetch)).scalar_one() == 2  # both feeds polled
        assert db.execute(select(func.count()).select_from(RunLock)).scalar_one() == 0
