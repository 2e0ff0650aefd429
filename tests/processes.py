"""Helpers for tests and benchmarks that start long-running commands (a Prefect server, `newsetl serve`, a
worker) as real processes on 127.0.0.1 and wait for them."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    """Whether `url` answers 200 now (a health endpoint, typically)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 180
) -> None:
    """Poll `ready` until it holds; fail at once if `process` exits, or after `timeout` seconds, quoting the
    tail of the process's `log` when there is one."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            why = f"exited with {process.returncode}" if process.returncode is not None else "timed out"
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"{' '.join(map(str, process.args))} {why}\n{tail}")
        time.sleep(0.2)
