"""`newsetl serve` as the README's "Run on a schedule" and "Trigger by hand" sections use it: with no Prefect
set up, it starts a server of its own, runs a deployment triggered by name, and on SIGTERM stops cleanly,
taking its server down with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from newsetl.load.db import make_engine
from newsetl.load.models import Run
from tests.e2e.conftest import write_feeds_file
from tests.localserver import LocalServer
from tests.processes import answers, free_port, wait_until

BIN = Path(sys.executable).parent


def test_serve_runs_a_manual_trigger_and_stops_its_own_server_on_sigterm(site: LocalServer, tmp_path) -> None:
    port, database = free_port(), tmp_path / "news.db"
    feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
    # No Prefect set up, and the database and network settings only as options, as a user types them.
    unset = ("PREFECT_API_URL", "NEWSETL_DATABASE_URL", "NEWSETL_ALLOW_NETWORKS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    # Prefect's runner asks its server for triggered runs every 10 s by default; every second here, so the
    # trigger below starts within a second rather than up to ten (the same runner, the same trigger).
    env["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"
    db = ["--db", f"sqlite:///{database}"]
    subprocess.run([BIN / "newsetl", "db", "upgrade", *db], env=env, check=True, capture_output=True)
    command = [BIN / "newsetl", "serve", "--feeds", str(feeds), "--prefect-port", str(port), *db]
    command += ["--allow-network", "127.0.0.0/8"]
    api = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        serve = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "ingest/manual" in log.read_text(), serve, log)
            subprocess.run(
                [BIN / "prefect", "deployment", "run", "ingest/manual", "--param", "limit=2"],
                env=api, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            wait_until(lambda: _completed_run_with(database, limit=2), serve, log)
            shown = subprocess.run(
                [BIN / "prefect", "deployment", "inspect", "ingest/manual"],
                env=api, check=True, capture_output=True, text=True, timeout=120,
            ).stdout  # fmt: skip
        finally:
            serve.send_signal(signal.SIGTERM)
            code = serve.wait(timeout=120)
    assert code == 0, log.read_text()[-3000:]
    assert "feeds_file" in shown and str(database) not in shown  # the database URL is no parameter
    assert not answers(f"http://127.0.0.1:{port}/api/health"), "serve left its Prefect server running"


def _completed_run_with(database: Path, **parameters: object) -> bool:
    if not database.exists():
        return False
    with make_engine(f"sqlite:///{database}").connect() as db:
        runs = db.execute(select(Run.parameters, Run.status)).all()
    return any(status == "completed" and parameters.items() <= stored.items() for stored, status in runs)
