"""tests/pgcluster.py: a private PostgreSQL cluster that a test can stop and start, and that leaves nothing
behind."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.pgcluster import PgCluster, PgClusterError, StopMode, find_bindir, pg_cluster_fixture

pytestmark = pytest.mark.postgres

pg_cluster = pg_cluster_fixture()


def _insert_a_row(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)"))
        connection.execute(text("INSERT INTO notes VALUES (1, 'kept')"))
    engine.dispose()


def _rows(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text("SELECT id, body FROM notes"))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_committed_row_survives_a_stop_and_a_start(pg_cluster: PgCluster, mode: StopMode) -> None:
    # "immediate" is a crash of the server: the row must come back from the WAL at the next start.
    _insert_a_row(pg_cluster.url)

    pg_cluster.stop(mode)

    assert not pg_cluster.is_running()
    with pytest.raises(OperationalError):
        _rows(pg_cluster.url)
    pg_cluster.start()
    assert pg_cluster.is_running()
    assert _rows(pg_cluster.url) == [(1, "kept")]


def test_an_engine_made_before_a_restart_reconnects_with_pre_ping(pg_cluster: PgCluster) -> None:
    _insert_a_row(pg_cluster.url)
    engine = create_engine(pg_cluster.url, pool_pre_ping=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # leaves a pooled connection, which the restart kills

    pg_cluster.restart()

    with engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM notes")).scalar_one() == "kept"
    engine.dispose()


def test_a_database_of_its_own(pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database("newsetl test")
    _insert_a_row(url)
    assert _rows(url) == [(1, "kept")]


def _process_identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time) while `pid` is a live process; the start time tells a reused pid apart. A zombie
    is not live: it holds no port, file or memory, and this sandbox's PID 1 reaps orphans seconds late."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    state, start_time = fields[0], fields[19]
    return None if state in ("Z", "X") else (pid, start_time)


def _cluster_processes(postmaster: int) -> set[tuple[int, str]]:
    """The postmaster and its children (checkpointer, walwriter...), whose command lines name no folder."""
    pids = {postmaster}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.add(int(stat.parent.name))
        except FileNotFoundError:
            continue
    return {identity for pid in pids if (identity := _process_identity(pid))}


class _Failure(Exception):
    pass


@pytest.mark.parametrize("fails", [False, True], ids=["normal exit", "test fails"])
def test_leaving_the_context_leaves_no_process_and_no_folder(fails: bool) -> None:
    with pytest.raises(_Failure) if fails else nullcontext(), PgCluster() as cluster:
        root = cluster.root
        postmaster = cluster.postmaster_pid()
        assert postmaster is not None
        processes = _cluster_processes(postmaster)
        assert len(processes) > 1  # the postmaster and its helpers
        if fails:
            raise _Failure

    assert not root.exists()
    assert not cluster.is_running()
    assert [(pid, start) for pid, start in processes if _process_identity(pid) == (pid, start)] == []


@pytest.fixture
def traversable_parent() -> Iterator[Path]:
    """A parent folder for clusters that the postgres user can enter, unlike pytest's tmp_path (0700 and
    root's when the tests run as root)."""
    parent = Path(tempfile.mkdtemp(prefix="newsetl-pgcluster-test-"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent)


def test_a_failed_start_quotes_the_server_log_and_leaves_nothing(traversable_parent: Path) -> None:
    cluster = PgCluster(settings={"shared_buffers": "lots"}, parent=traversable_parent)

    with pytest.raises(PgClusterError, match='invalid value for parameter "shared_buffers"'):
        cluster.open()

    assert list(traversable_parent.iterdir()) == []


def test_missing_binaries_are_an_error_not_a_skip() -> None:
    with pytest.raises(PgClusterError, match="PostgreSQL 99"):
        find_bindir(99)
