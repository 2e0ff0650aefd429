"""`newsetl browse`: the SQLite database in Datasette (https://datasette.io), read-only, with its views
described and a few canned queries (flows/datasette.yaml); for a PostgreSQL database, how to connect instead.

Datasette runs in this process, on a socket bound before it starts, so a port in use is a one-line error and
a browser opened at once waits in the socket's backlog instead of failing. The database may be written by a
run at the same time: Datasette opens it in its normal mode (read-only connections that see new rows;
immutable mode would promise SQLite the file never changes), and every connection it opens, the one it
would write through included, is read-only, so no plugin and no query can change the news database.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import signal
import socket
import sqlite3
import sys
import webbrowser
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from datasette.app import Datasette
from datasette.database import Database
from sqlalchemy.engine import URL, make_url

from newsetl.extract.errors import ConfigError
from newsetl.load.models import Base

METADATA_FILE = Path(__file__).with_name("datasette.yaml")
# The key of the one database in METADATA_FILE, filed under the name Datasette gives the database served.
METADATA_DATABASE = "newsetl"
# Datasette's limits are for a public server; at home, a view over months of articles may take seconds.
SETTINGS = {"sql_time_limit_ms": 20_000, "facet_time_limit_ms": 1_000}


class BrowseError(ConfigError):
    """browse cannot start; the message says what to give instead."""


# --- which database -------------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names, or None for a PostgreSQL database (that the file exists, the command
    checks as every reading command does)."""
    parsed = _parsed(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return None
    if backend != "sqlite":
        raise BrowseError(f"newsetl browse knows SQLite and PostgreSQL databases, not {backend}; fix --db")
    if parsed.database in (None, "", ":memory:"):
        raise BrowseError("an in-memory SQLite database holds nothing to browse; give --db sqlite:///FILE")
    return Path(parsed.database)


def _parsed(url: str) -> URL:
    try:
        return make_url(url)
    except Exception as error:  # SQLAlchemy raises several unrelated classes for a bad URL
        raise BrowseError(f"unusable database URL: {error}; set --db or NEWSETL_DATABASE_URL") from error


def connection_advice(url: str) -> str:
    """How to explore a PostgreSQL database without newsetl: psql, pandas and the views, with no password."""
    parsed = _parsed(url)
    without_password = URL.create(
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    )
    psql_url = without_password.set(drivername="postgresql").render_as_string(hide_password=False)
    sqlalchemy_url = without_password.render_as_string(hide_password=False)
    return "\n".join(
        [
            f"newsetl browse serves SQLite files in Datasette; {parsed.database!r} is a PostgreSQL database "
            "(nothing started). Explore it with:",
            f"  psql {shlex.quote(psql_url)}",
            f'  pandas: pd.read_sql("SELECT * FROM topic_daily", "{sqlalchemy_url}")',
            "No password is printed: psql and psycopg read one from PGPASSWORD or ~/.pgpass.",
            f'Views (README, "Views"): {", ".join(view_names())}.',
        ]
    )


# --- what Datasette shows ---------------------------------------------------------------------------------


def metadata(database_name: str) -> dict[str, Any]:
    """The bundled Datasette metadata, its database entry under `database_name`."""
    bundled = yaml.safe_load(METADATA_FILE.read_text())
    bundled["databases"] = {database_name: bundled["databases"][METADATA_DATABASE]}
    return bundled


def view_names() -> list[str]:
    """The views the metadata describes: every name it describes that is no table of the models."""
    described = yaml.safe_load(METADATA_FILE.read_text())["databases"][METADATA_DATABASE]["tables"]
    tables = {*Base.metadata.tables, "alembic_version"}
    return [name for name in described if name not in tables]


class ReadOnlyDatabase(Database):
    """Datasette's handle on the news database: every connection it opens is read-only (`mode=ro` and
    `query_only`), its write connection too, so a write from a plugin or a canned query fails instead of
    touching a database a run may be writing to."""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        connection: sqlite3.Connection = super().connect(write=False)
        connection.execute("PRAGMA query_only = 1")
        return connection


def datasette(path: Path) -> Datasette:
    """A Datasette serving the SQLite file at `path` read-only, with newsetl's metadata."""
    name = path.stem  # the name Datasette gives a file
    app = Datasette([str(path)], metadata=metadata(name), settings=SETTINGS)
    app.remove_database(name)
    app.add_database(ReadOnlyDatabase(app, str(path), is_mutable=True), name=name)
    return app


# --- serving ----------------------------------------------------------------------------------------------


def serve(path: Path, host: str, port: int, open_browser: bool) -> int:
    """Serve `path` until Ctrl-C (exit 0) or SIGTERM; print the URL, and open it in a browser if asked."""
    listening = listen(host, port)
    app = datasette(path)
    url = f"http://{_netloc(listening)}{app.urls.database(path.stem)}"
    print(f"newsetl browse: {path} in Datasette at {url}, read-only; Ctrl-C stops it", flush=True)
    if not ipaddress.ip_address(listening.getsockname()[0]).is_loopback:
        print(f"newsetl: serving on {host}: whoever reaches it can read the whole database", file=sys.stderr)
    if open_browser and _graphical_browser_likely():
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app.app(), log_level="warning", lifespan="on"))
    # uvicorn shuts down on SIGINT or SIGTERM, then raises the signal again: both end here, as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listening])
    return 0


def _graphical_browser_likely() -> bool:
    """Whether webbrowser would start a window: on Linux without a display (over ssh, say) it would run a
    text browser such as w3m in this terminal and wait for it, before the server even starts."""
    if os.environ.get("BROWSER") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on (host, port), or a BrowseError saying why not (a port in use, say)."""
    if not 0 <= port <= 65535:
        raise BrowseError(f"--port {port} is no port; give one from 1 to 65535 (0 picks a free one)")
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise BrowseError(f"cannot listen on --host {host!r}: {error.strerror}") from error
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
        listening.listen(128)
    except OSError as error:
        listening.close()
        raise BrowseError(
            f"cannot listen on {host} port {port}: {error.strerror}; pick another --port (0: any free one)"
        ) from error
    return listening


def _netloc(listening: socket.socket) -> str:
    host, port = listening.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
