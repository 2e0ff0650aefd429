"""A throw-away PostgreSQL cluster per test, which the test may stop and restart at will.

The shared server on 127.0.0.1:5432 serves every test at once, so no test may stop it; yet what the ETL does
when its database goes away in the middle of a run (a failover, a restart for an upgrade) can only be
tested against a server that really goes away. `PgCluster` runs `initdb` into a fresh temporary folder and
serves that cluster on a free port of 127.0.0.1, from the PostgreSQL 15 binaries the shared server uses:

    with PgCluster() as cluster:
        engine = create_engine(cluster.url)
        ...
        cluster.stop()   # connections now fail with sqlalchemy.exc.OperationalError
        cluster.start()  # same port, same data (or cluster.restart())

In a test module, `pg_cluster = pg_cluster_fixture()` declares a fixture of that name.

`initdb` and `postgres` refuse to run as root, and the tests run as root on CI: the cluster then belongs to
the `postgres` OS user, and every PostgreSQL command runs through `runuser`. Missing binaries are an
error, never a skip, so that CI cannot pass by silently testing nothing.

Here `initdb` takes 0.4-1.3 s (it depends on the machine's load) and a start, a stop or closing the
cluster about 0.1 s each, which is pg_ctl's polling interval. Nothing is synced to disk (fsync=off): the
cluster dies with the test. Pooled connections die with a stop: give engines `pool_pre_ping=True` or
`dispose()` them after a restart. Linux only (runuser, /proc).
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

import pytest
from sqlalchemy import URL, create_engine, text

from tests.processes import free_port

StopMode = Literal["smart", "fast", "immediate"]

POSTGRES_MAJOR: Final = 15
OS_USER: Final = "postgres"
SUPERUSER: Final = "postgres"
_TOOLS: Final = ("initdb", "pg_ctl")
_START_ATTEMPTS: Final = 3  # the free port can be taken between picking it and the server binding it

# Appended to postgresql.conf: what a short-lived test cluster needs, not what a production one would.
TEST_SETTINGS: Final[Mapping[str, str]] = {
    "listen_addresses": "127.0.0.1",
    # Nothing outlives the test, so nothing needs to survive a crash of the machine...
    "fsync": "off",
    "full_page_writes": "off",
    # ...but a committed row must survive a crash of the server (stop(mode="immediate")), which with
    # fsync=off costs nothing: a commit writes its WAL to the OS, it no longer waits for the disk.
    "synchronous_commit": "on",
    # Several clusters may run at once beside the shared server; the defaults reserve 128MB each.
    "shared_buffers": "16MB",
    "max_connections": "50",
    # Background work the tests do not need, and which would only make stops and timings noisier.
    "autovacuum": "off",
    "jit": "off",
}


class PgClusterError(RuntimeError):
    """The cluster could not be created, started or stopped; the message quotes the server log's tail."""


class PgCluster:
    """A PostgreSQL cluster in a temporary folder, served on 127.0.0.1:`port`; see the module docstring.

    Nothing happens until `open()` (or `with`); `close()` stops the server and removes the folder.
    `settings` are added to (and override) `TEST_SETTINGS`; `timeout` bounds every start and stop.
    """

    def __init__(
        self,
        *,
        bindir: Path | None = None,
        settings: Mapping[str, str] | None = None,
        timeout: float = 30,
        parent: Path | None = None,
    ) -> None:
        self.bindir = bindir or find_bindir()
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.timeout = timeout
        self._parent = parent
        self._root: Path | None = None
        self.port = 0

    # -- where things are -------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The temporary folder: `data/`, `server.log` and the unix socket (kept out of /var/run)."""
        if self._root is None:
            raise PgClusterError("the cluster is not open: use `with PgCluster() as cluster`")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database as the superuser (trust auth: no password)."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        url = URL.create("postgresql+psycopg", SUPERUSER, None, "127.0.0.1", self.port, database)
        return url.render_as_string(hide_password=False)  # escapes what a database name may hold

    def __repr__(self) -> str:
        return f"PgCluster(root={self._root}, port={self.port}, running={self.is_running()})"

    # -- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> Self:
        """Create the folder, `initdb` into it and start the server; on failure leave nothing behind."""
        if self._root is not None:
            raise PgClusterError(f"{self!r} is already open")
        self._root = _make_root(self._parent)
        try:
            self._initdb()
            self._write_settings()
            self._first_start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the server at once (its data is about to go) and remove the folder; safe to call twice."""
        if self._root is None:
            return
        try:
            self._stop_or_kill()
        finally:
            shutil.rmtree(self._root)
            self._root = None

    def start(self) -> None:
        """Start the stopped server on the same port, so URLs and engines made before stay valid."""
        if self.is_running():
            raise PgClusterError(f"{self!r} is already running")
        self._pg_ctl_start()

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server (a no-op when it is stopped); "immediate" is a crash, recovered at next start."""
        if not self.is_running():
            return
        result = self._pg_ctl("stop", "-m", mode)
        if result.returncode != 0 or self.is_running():
            raise self._error(f"pg_ctl stop -m {mode} failed", result)

    def restart(self, mode: StopMode = "fast") -> None:
        """Stop in `mode`, then start on the same port."""
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        """Whether this cluster's postmaster is alive (an unreaped zombie is not: it serves nothing)."""
        pid = self.postmaster_pid()
        return pid is not None and _is_live_process(pid, self.data_dir)

    def postmaster_pid(self) -> int | None:
        """The pid in postmaster.pid, which the server writes as it starts and removes as it stops (unless
        it is killed)."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except (FileNotFoundError, PgClusterError):
            return None
        return int(first_line) if first_line.strip().isdigit() else None

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
        finally:
            engine.dispose()
        return self.url_for(name)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except (FileNotFoundError, PgClusterError):
            return "(no server log)"

    # -- the work -------------------------------------------------------------------------------------

    def _initdb(self) -> None:
        result = self._run(
            self.bindir / "initdb",
            "--pgdata",
            self.data_dir,
            "--username",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            # The C locale exists everywhere; a named one (C.UTF-8, en_US.UTF-8) may not be installed.
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        if result.returncode != 0:
            hint = f" ({OS_USER} must be able to enter {self.root.parent})" if _is_root() else ""
            raise self._error(f"initdb failed{hint}", result)

    def _write_settings(self) -> None:
        # The socket goes in our folder: the default, /var/run/postgresql, is the shared server's.
        lines = {**self.settings, "unix_socket_directories": str(self.root)}
        block = "".join(f"{name} = {_quote(value)}\n" for name, value in lines.items())
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# tests/pgcluster.py\n{block}")

    def _first_start(self) -> None:
        for attempt in range(_START_ATTEMPTS):
            self.port = free_port()
            try:
                self._pg_ctl_start()
                return
            except PgClusterError as error:
                if "could not bind" not in str(error) or attempt == _START_ATTEMPTS - 1:
                    raise

    def _pg_ctl_start(self) -> None:
        log_start = _size(self.log_path)
        # The port goes on the command line rather than in postgresql.conf, since a retry changes it.
        result = self._pg_ctl("start", "--log", self.log_path, "-o", f"-p {self.port}")
        if result.returncode != 0 or not self.is_running():
            raise self._error(f"pg_ctl start on port {self.port} failed", result, log_start)

    def _stop_or_kill(self) -> None:
        try:
            self.stop("immediate")
        except PgClusterError:
            # A wedged server must not keep the folder (and the test run) hostage: kill it outright.
            pid = self.postmaster_pid()
            if pid is not None and _is_live_process(pid, self.data_dir):
                os.kill(pid, signal.SIGKILL)
                _wait_for(lambda: not _is_live_process(pid, self.data_dir), self.timeout)

    def _pg_ctl(self, action: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        # -w waits until the server accepts connections (or is gone); -t bounds that wait.
        wait = ("-w", "-t", str(round(self.timeout)))
        return self._run(self.bindir / "pg_ctl", action, "-D", self.data_dir, *wait, *args)

    def _run(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [*_as_os_user(), *map(str, command)],
                capture_output=True,
                text=True,
                # The caller's folder may be closed to the postgres user; initdb fails in such a folder.
                cwd=self.root,
                env=_clean_environment(),
                timeout=self.timeout + 10,
                check=False,
            )
        except subprocess.TimeoutExpired as timeout:
            raise PgClusterError(f"{' '.join(map(str, command))} hung\n{self.log_tail()}") from timeout

    def _error(
        self, what: str, result: subprocess.CompletedProcess[str], log_start: int = 0
    ) -> PgClusterError:
        log = self.log_tail() if log_start == 0 else _read_from(self.log_path, log_start)
        return PgClusterError(
            f"{what} (exit {result.returncode}) in {self.root}\n"
            f"{result.stdout}{result.stderr}--- server log ---\n{log}"
        )


def pg_cluster_fixture(
    scope: Literal["function", "class", "module", "package", "session"] = "function",
    *,
    settings: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Callable[..., Iterator[PgCluster]]:
    """A pytest fixture giving a running `PgCluster`, named after the variable it is set to:

    pg_cluster = pg_cluster_fixture()

    def test_survives_a_restart(pg_cluster: PgCluster) -> None: ...
    """

    def fixture() -> Iterator[PgCluster]:
        with PgCluster(settings=settings, timeout=timeout) as cluster:
            yield cluster

    return pytest.fixture(scope=scope)(fixture)


@functools.cache
def find_bindir(major: int = POSTGRES_MAJOR) -> Path:
    """The folder of `major`'s `initdb` and `pg_ctl`: `pg_config --bindir`, else /usr/lib/postgresql/*/bin."""
    candidates = [d for d in _candidate_bindirs() if all(os.access(d / t, os.X_OK) for t in _TOOLS)]
    for bindir in candidates:
        if _major_version(bindir) == major:
            return bindir
    found = ", ".join(f"{d} ({_major_version(d)})" for d in candidates) or "none"
    raise PgClusterError(
        f"tests need PostgreSQL {major}'s initdb and pg_ctl (apt-get install postgresql-{major}); "
        f"found: {found}"
    )


def _candidate_bindirs() -> list[Path]:
    found: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            found.append(Path(result.stdout.strip()))
    # Newest first: Debian installs each major version side by side.
    versioned = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if d.parent.name.isdigit()]
    found += sorted(versioned, key=lambda d: int(d.parent.name), reverse=True)
    return list(dict.fromkeys(found))


def _major_version(bindir: Path) -> int | None:
    # `pg_ctl --version` answers before pg_ctl's refusal to run as root, so it needs no runuser.
    result = subprocess.run([bindir / "pg_ctl", "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"\(PostgreSQL\) (\d+)", result.stdout)
    return int(match.group(1)) if match else None


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_os_user() -> Sequence[str]:
    """The prefix that runs a command as the postgres OS user when we are root, else nothing."""
    if not _is_root():
        return ()
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise PgClusterError("running PostgreSQL as root needs `runuser` (util-linux) to drop to a user")
    return (runuser, "-u", OS_USER, "--")


def _make_root(parent: Path | None) -> Path:
    # Absolute, since the postmaster's command line is matched against it (`_is_live_process`).
    root = Path(tempfile.mkdtemp(prefix="newsetl-pg-", dir=parent)).resolve()
    if _is_root():
        try:
            user = pwd.getpwnam(OS_USER)
        except KeyError:
            root.rmdir()
            raise PgClusterError(f"PostgreSQL cannot run as root, and there is no {OS_USER!r} user") from None
        os.chown(root, user.pw_uid, user.pw_gid)
    return root


def _clean_environment() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST... set for the shared server must not leak into this cluster; LC_ALL=C keeps
    # the messages English, which `_first_start` reads.
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "LC_ALL": "C"}


def _is_live_process(pid: int, data_dir: Path) -> bool:
    """Whether `pid` runs and is the postmaster of `data_dir`: after a kill the pid may be someone else's,
    and a stopped postmaster, an orphan since pg_ctl exited, stays a zombie until PID 1 reaps it (seconds
    later in some containers, never in others)."""
    if not Path("/proc/self").exists():  # not Linux: no zombie or pid reuse check
        return _signalable(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and str(data_dir) in cmdline


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _quote(value: str) -> str:
    """A postgresql.conf value; quoted, any setting's value is read the same as bare."""
    return "'" + value.replace("'", "''") + "'"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")[-3000:]
    except FileNotFoundError:
        return "(no server log)"
