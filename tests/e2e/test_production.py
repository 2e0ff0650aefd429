"""The production path, as the README's "Production" section runs it: a Prefect server, `prefect deploy`
from prefect.yaml, a manual trigger by deployment name, a process worker, the retag deployment on it; and
two shards at once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleTagging, FeedItem
from tests.databases import data_counts, fresh_database
from tests.e2e.conftest import write_feeds_file
from tests.localserver import LocalServer

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def prefect_server(tmp_path: Path, prefect_api: str) -> dict[str, str]:
    """The environment to reach a Prefect server with a PREFECT_HOME of its own: the session's throw-away
    server (prefect_api), a real Prefect API server on 127.0.0.1 like any the README's commands talk to.
    Starting a `prefect server start` of this test's own cost 10-20 s more; test_serve starts one (newsetl
    serve does), and the work pool and deployments made here are named for this test alone."""
    return {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def _prefect(env: dict[str, str], *args: str, cwd: Path = REPO, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_a_deployment_triggered_by_name_runs_on_a_worker(site: LocalServer, prefect_server, tmp_path) -> None:
    env = {**prefect_server, "NEWSETL_DATABASE_URL": f"sqlite:///{tmp_path / 'news.db'}"}
    feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
    _prefect(env, "work-pool", "create", "newsetl", "--type", "process")
    _prefect(env, "--no-prompt", "deploy", "--all")

    _prefect(
        env, "deployment", "run", "ingest/manual", "--param", f"feeds_file={feeds}", "--param", "limit=3"
    )
    _prefect(env, "worker", "start", "--pool", "newsetl", "--run-once")

    with make_engine(env["NEWSETL_DATABASE_URL"]).connect() as db:
        assert (
            db.execute(select(func.count()).select_from(Article)).scalar_one() == 3
        )  # the parameter arrived
        assert db.execute(select(func.count()).select_from(FeedItem)).scalar_one() >= 3

    # The retag deployment re-tags those articles under a new tagger version, on the same worker.
    env["NEWSETL_ALIASES_FILE"] = str(_aliases_file_of_version(tmp_path, "retag-on-worker"))
    _prefect(env, "deployment", "run", "retag/retag", "--param", "batch_size=2")
    _prefect(env, "worker", "start", "--pool", "newsetl", "--run-once")

    with make_engine(env["NEWSETL_DATABASE_URL"]).connect() as db:
        taggers = dict(
            tuple(row)
            for row in db.execute(select(ArticleTagging.tagger, func.count()).group_by(ArticleTagging.tagger))
        )
    assert sorted(taggers.values()) == [3, 3] and any("aliases-retag-on-worker" in t for t in taggers)


def _aliases_file_of_version(directory: Path, version: str) -> Path:
    """The bundled aliases file under another version: what a user's edited copy looks like."""
    bundled = Path(str(files("newsetl.transform").joinpath("aliases.yaml"))).read_text(encoding="utf-8")
    path = directory / "aliases.yaml"
    path.write_text(re.sub(r"(?m)^version:.*$", f"version: {version!r}", bundled), encoding="utf-8")
    return path


def test_two_shards_at_once_load_exactly_the_rows_of_one_run(
    site: LocalServer, tmp_path, prefect_api
) -> None:
    if not shutil.which("newsetl", path=str(BIN)):
        pytest.skip("the newsetl command is not installed")
    feeds = write_feeds_file(
        tmp_path, [site.url(p) for p in ("/world.rss", "/business.atom", "/consent.xml")]
    )
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    (tmp_path / "one").mkdir()
    with (
        fresh_database("postgresql", tmp_path) as sharded,
        fresh_database("sqlite", tmp_path / "one") as single,
    ):
        subprocess.run(
            [BIN / "newsetl", "db", "upgrade", "--db", sharded], env=env, check=True, capture_output=True
        )
        shards = [
            subprocess.Popen(
                [BIN / "newsetl", "run", "--feeds", str(feeds), "--db", sharded, "--shard", f"{i}/2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outputs = [shard.communicate(timeout=300) for shard in shards]
        assert [shard.returncode for shard in shards] == [0, 0], outputs
        subprocess.run([BIN / "newsetl", "run", "--feeds", str(feeds), "--db", single], env=env, check=True,
                       capture_output=True)  # fmt: skip
        assert data_counts(make_engine(sharded)) == data_counts(make_engine(single))
        polled = [int(out.split("feeds     polled ")[1].split(",")[0]) for out, _ in outputs]
        assert sum(polled) == 3  # every feed polled by exactly one shard
