"""Time from a manual trigger to the first feed request, for `newsetl serve` and for a Prefect worker.

    python -m benchmarks.trigger_latency [--repeats N] [--prefect-db URL]

Serves ../shared/corpus/articles as one feed from a local server. For each path, it sets Prefect up the way
the README says (a throw-away PREFECT_HOME; `--prefect-db` puts the worker path's Prefect server on
PostgreSQL, as in production), triggers `prefect deployment run 'ingest/manual' --param limit=2` N times,
and measures from the trigger command's start to the feed's first request, and to the run's end in the
news database. Also prints what each path costs to start.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

from newsetl.load.db import make_engine
from newsetl.load.models import Run
from tests.conftest import CORPUS
from tests.corpus_site import serve_articles
from tests.localserver import LocalServer, serving
from tests.processes import answers, free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEADLINE = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="triggers per path")
    parser.add_argument("--prefect-db", help="Prefect server database for the worker path (default SQLite)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, serving() as site:
        feeds = Path(tmp) / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {serve_articles(site, CORPUS / 'articles')[0]}\n")
        for name, path in (("serve", _serve_path), ("worker", _worker_path)):
            home = Path(tmp) / name
            home.mkdir()
            env = _environment(home, prefect_db=args.prefect_db if name == "worker" else None)
            with path(env, feeds, home) as started:
                latencies = [_trigger(env, site, feeds) for _ in range(args.repeats)]
            rows.append((name, started, latencies))
    _report(rows)


def _environment(home: Path, prefect_db: str | None) -> dict[str, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSETL_"))}
    env |= {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "NEWSETL_DATABASE_URL": f"sqlite:///{home / 'news.db'}",
        "NEWSETL_ALLOW_NETWORKS": "127.0.0.0/8",
        "NEWSETL_PER_HOST_DELAY": "0",
    }
    if prefect_db:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
    return env


@contextmanager
def _serve_path(env: dict[str, str], feeds: Path, home: Path) -> Iterator[float]:
    """`newsetl serve` with no Prefect set up: it starts its own server. Yields seconds until it serves."""
    _newsetl(env, "db", "upgrade")
    port = env["PREFECT_API_URL"].split(":")[-1].split("/")[0]
    serve_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    log = home / "serve.log"
    began = time.monotonic()
    command = [BIN / "newsetl", "serve", "--feeds", str(feeds), "--prefect-port", port]
    with _process(command, serve_env, log) as serve:
        wait_until(lambda: "ingest/manual" in log.read_text(), serve, log, DEADLINE)
        yield time.monotonic() - began


@contextmanager
def _worker_path(env: dict[str, str], feeds: Path, home: Path) -> Iterator[float]:
    """README "Production": a Prefect server, the work pool, `prefect deploy`, a long-running worker."""
    port = env["PREFECT_API_URL"].split(":")[-1].split("/")[0]
    began = time.monotonic()
    server_command = [BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", port]
    with _process(server_command, env, home / "server.log") as server:
        wait_until(lambda: answers(f"{env['PREFECT_API_URL']}/health"), server, home / "server.log", DEADLINE)
        _prefect(env, "work-pool", "create", "newsetl", "--type", "process")
        _newsetl(env, "db", "upgrade")
        _prefect(env, "--no-prompt", "deploy", "--all")
        worker_log = home / "worker.log"
        worker_command = [BIN / "prefect", "worker", "start", "--pool", "newsetl"]
        with _process(worker_command, env, worker_log) as worker:
            wait_until(lambda: "started" in worker_log.read_text().lower(), worker, worker_log, DEADLINE)
            yield time.monotonic() - began


def _trigger(env: dict[str, str], site: LocalServer, feeds: Path) -> tuple[float, float]:
    """Seconds from the trigger to the feed's first request, and to the run's end in the news database."""
    engine = make_engine(env["NEWSETL_DATABASE_URL"])
    done_before = _finished_runs(engine)
    began = time.monotonic()
    parameters = ["--param", f"feeds_file={feeds}", "--param", "limit=2"]
    _prefect(env, "deployment", "run", "ingest/manual", *parameters)
    deadline = began + DEADLINE
    while not (first := [r.at for r in site.requests if r.at >= began and r.path.endswith(".rss")]):
        if time.monotonic() > deadline:
            raise SystemExit("no feed request within the deadline")
        time.sleep(0.05)
    while _finished_runs(engine) == done_before:
        if time.monotonic() > deadline:
            raise SystemExit("the run did not finish within the deadline")
        time.sleep(0.2)
    return first[0] - began, time.monotonic() - began


def _finished_runs(engine: Engine) -> int:
    with engine.connect() as db:
        query = select(func.count()).select_from(Run).where(Run.status.in_(("completed", "skipped")))
        return db.execute(query).scalar_one()


@contextmanager
def _process(command: list[object], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        process = subprocess.Popen([str(c) for c in command], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _prefect(env: dict[str, str], *args: str) -> None:
    subprocess.run([BIN / "prefect", *args], env=env, cwd=REPO, check=True, capture_output=True)


def _newsetl(env: dict[str, str], *args: str) -> None:
    subprocess.run([BIN / "newsetl", *args], env=env, check=True, capture_output=True)


def _report(rows: list[tuple[str, float, list[tuple[float, float]]]]) -> None:
    header = ("path", "start, s", "trigger to first feed request, s (median, min-max)", "to run done, s")
    print(f"{header[0]:8}{header[1]:>10}{header[2]:>54}{header[3]:>16}")
    for name, started, latencies in rows:
        first = [f for f, _ in latencies]
        done = [d for _, d in latencies]
        spread = f"{statistics.median(first):.1f} ({min(first):.1f}-{max(first):.1f})"
        print(f"{name:8}{started:>10.1f}{spread:>54}{statistics.median(done):>16.1f}")


if __name__ == "__main__":
    main()
