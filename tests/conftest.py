"""Test-wide policy: no socket may reach beyond the loopback range."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.databases import fresh_database, wait_for_drops
from tests.localserver import LocalServer, serving

# On CI the property tests explore the same examples every time, so a landing never hangs on luck; on a
# developer's machine they explore new ones each run, which is where new bugs are found.
settings.register_profile("ci", derandomize=True, max_examples=300)
if os.environ.get("CI"):
    settings.load_profile("ci")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"

_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not ipaddress.ip_address(str(host).split("%")[0]).is_loopback:
            raise ConnectionRefusedError(f"tests may not connect beyond loopback: {address!r}")
    _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _refuse_non_loopback_sockets() -> Iterator[None]:
    socket.socket.connect = _loopback_only_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True, scope="session")
def _drop_test_databases_before_the_end() -> Iterator[None]:
    """The PostgreSQL databases of the tests are dropped in the background (tests.databases); the session
    ends only once they all are, and fails if one could not be."""
    yield
    wait_for_drops()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    # A short shutdown poll (as the integration servers use): stopping the server waits for the serve loop
    # to notice, up to this long, after every test that uses it.
    with serving(poll_interval=0.02) as running:
        yield running


def corpus_dir(name: str) -> Path:
    """A folder of ../shared/corpus, or a skip where the corpus is absent (CI always has it)."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a SQLite file, and a PostgreSQL database dropped afterwards."""
    with fresh_database(request.param, tmp_path) as url:
        yield url
