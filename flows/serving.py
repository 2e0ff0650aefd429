"""`newsetl serve`: the schedules and the manual-trigger deployment, run from this one command until stopped.

Prefect's `serve` registers the deployments with an API, polls it for due runs and executes each in a
subprocess. Prefect's own ephemeral API (what `newsetl run` uses) has no scheduler service, so when
PREFECT_API_URL is unset, serve starts a `prefect server start` of its own on 127.0.0.1 (its state in
$PREFECT_HOME, ~/.prefect by default) and stops it on the way out. On SIGTERM or Ctrl-C Prefect pauses the
schedules and stops; a run cut short releases its database lock, or the lock's lease lapses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect import serve
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

from newsetl.flows.ingest import ingest

SCHEDULED = "scheduled"  # polls due feeds every interval
MANUAL = "manual"  # no schedule: `prefect deployment run 'ingest/manual' --param ...`
SERVER_STARTUP_SECONDS = 120.0  # a fresh Prefect home took 9-19 s here; CI machines are slower


def serve_ingest(interval: timedelta, parameters: dict[str, Any]) -> None:
    """Block, running the scheduled ingest every `interval` (due feeds only) and any manual trigger."""
    scheduled = ingest.to_deployment(
        name=SCHEDULED,
        interval=interval,
        parameters={**parameters, "due_only": True},
        concurrency_limit=1,
        description="Polls the feeds whose next poll time has come.",
    )
    manual = ingest.to_deployment(
        name=MANUAL,
        parameters=parameters,
        concurrency_limit=1,
        description="One ingest run on demand; takes the flow's parameters.",
    )
    serve(scheduled, manual, print_starting_message=True)


@contextmanager
def prefect_api(port: int) -> Iterator[str]:
    """PREFECT_API_URL when set; otherwise a Prefect server of our own on 127.0.0.1:`port`, for the block."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    url = f"http://127.0.0.1:{port}/api"
    # SIGTERM ends this process without unwinding unless it raises: make it raise, so that the `finally`
    # below stops the server we started instead of leaving it running. Once Prefect's runner starts it
    # installs its own handler, which stops the runner gracefully and returns here all the same.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    # Its output goes to a file: a pipe nobody reads would fill up and stall a server that runs for months.
    log = Path(PREFECT_HOME.value()) / "newsetl-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        server = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True)
    try:
        _wait_until_healthy(server, url, log)
        print(
            f"Prefect server for the schedules: {url} (UI at http://127.0.0.1:{port}, log {log})", flush=True
        )
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_until_healthy(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"the Prefect server exited ({server.returncode}); is the port taken?\n{error}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {url} within {SERVER_STARTUP_SECONDS:.0f} s")
