"""End-to-end fixtures: one Prefect test harness for the whole run, a local news site, real databases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect.testing.utilities import prefect_test_harness

from tests.databases import copied_database, fresh_database
from tests.localserver import LocalServer, Response, serving

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "site"
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[str]:
    """One throw-away Prefect API server for every flow test (12-15 s to start here)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        yield str(PREFECT_API_URL.value())


# Settings for runs against the local site: it lives on loopback, and politeness delays would only slow the
# tests down.
RUN_SETTINGS = {
    "NEWSETL_ALLOW_NETWORKS": "127.0.0.0/8",
    "NEWSETL_PER_HOST_DELAY": "0",
    "NEWSETL_WORKERS": "1",
}


@pytest.fixture(autouse=True)
def run_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in RUN_SETTINGS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    """The fixture news site: two feeds sharing an article, a page that is gone, a PDF, a consent wall."""
    with serving_site() as server:
        yield server


@contextmanager
def serving_site() -> Iterator[LocalServer]:
    """The fixture news site (see `site`), for fixtures of a wider scope than a test."""
    with serving(poll_interval=0.02) as server:  # a short shutdown poll: see tests/conftest.py's server
        base = server.url("")
        for name in ("talks", "aid", "hostages", "markets"):
            server.routes[f"/{name}.html"] = Response((SITE / f"{name}.html").read_bytes(), headers=HTML)
        for path, kind in (("/talks.html?utm_source=rss&utm_medium=feed", "talks"),):
            server.routes[path] = Response((SITE / f"{kind}.html").read_bytes(), headers=HTML)
        server.routes["/world.rss"] = _feed(SITE / "world.rss", base, "application/rss+xml")
        server.routes["/business.atom"] = _feed(SITE / "business.atom", base, "application/atom+xml")
        server.routes["/consent.xml"] = Response((SITE / "not-a-feed.html").read_bytes(), headers=HTML)
        server.routes["/report.pdf"] = Response(
            b"%PDF-1.4\n%binary report\n", headers={"Content-Type": "application/pdf"}
        )
        yield server


@dataclass(frozen=True)
class IngestedSite:
    """The fixture site after one ingest run of some of its feeds into a database: what the run returned and
    what it requested, and the database it wrote, which tests read and write only through copies."""

    site: LocalServer
    summary: dict[str, object]
    paths_requested: list[str]
    database_url: str

    def copy(self, tmp_path: Path) -> AbstractContextManager[str]:
        """A database holding what the run left, for one test: as if the run had been that test's own."""
        return copied_database(self.database_url, tmp_path)


@contextmanager
def ingested_site(kind: str, folder: Path, feeds: list[str]) -> Iterator[IngestedSite]:
    """One ingest run of the fixture site's `feeds` (paths) into a fresh database of `kind`, to share
    between the tests of a module that start from that run: one run instead of one per test."""
    with serving_site() as site, fresh_database(kind, folder) as database_url:
        feeds_file = write_feeds_file(folder, [site.url(path) for path in feeds])
        with pytest.MonkeyPatch.context() as env:  # run_settings is only a test's
            for name, value in RUN_SETTINGS.items():
                env.setenv(name, value)
            summary = run_flow(database_url, feeds_file=str(feeds_file))
        yield IngestedSite(site, summary, site.paths_requested(), database_url)


def _feed(path: Path, base: str, content_type: str) -> Response:
    return Response(path.read_text().replace("{base}", base).encode(), headers={"Content-Type": content_type})


def run_flow(database_url: str, **parameters: Any) -> dict[str, object]:
    """The ingest flow into `database_url` (see run_in)."""
    from newsetl.flows.ingest import ingest

    return run_in(database_url, ingest, **parameters)


def run_in(database_url: str, flow: Callable[..., dict[str, object]], **parameters: Any) -> dict[str, object]:
    """A flow run against `database_url`, handed over as newsetl hands it: in the environment, never as a
    flow parameter (Prefect would store it, password and all)."""
    saved = os.environ.get("NEWSETL_DATABASE_URL")
    os.environ["NEWSETL_DATABASE_URL"] = database_url
    try:
        return flow(**parameters)
    finally:
        if saved is None:
            os.environ.pop("NEWSETL_DATABASE_URL", None)
        else:
            os.environ["NEWSETL_DATABASE_URL"] = saved


def write_feeds_file(directory: Path, urls: list[str]) -> Path:
    path = directory / "feeds.yaml"
    path.write_text("feeds:\n" + "".join(f"  - url: {url}\n    source: Fixture News\n" for url in urls))
    return path
