"""newsetl installed from its wheel, in a fresh virtualenv and run outside the checkout, works.

Every other test imports newsetl from the editable install, which maps `newsetl.*` onto the checkout's
folders: a package-data file left out of the wheel, a module outside the declared packages, or a path
computed from the checkout would pass them all and break only for someone who installs the wheel. Here the
wheel is built from a clean copy of the checkout, its contents are checked, and it is installed into a new
virtualenv from which `newsetl --help`, prefect.yaml's entrypoint, `newsetl db upgrade` (Alembic's scripts
from the wheel) and one real ingest run against the local fixture site must work, with the working
directory and the environment pointing nowhere into the checkout.

Installing the dependencies into that virtualenv would take minutes, so its one `.pth` file puts this
virtualenv's site-packages after its own: the dependencies come from there, newsetl itself never does. A
directory added by a `.pth` file is not scanned for `.pth` files itself, so the editable install's finder
stays off, which the test checks rather than assumes. `pip check` there still verifies the wheel's
declared dependencies. Nothing reaches the network: pip runs
with --no-index and without build isolation, and the run polls 127.0.0.1 and reports to the session's
Prefect test server (also on 127.0.0.1) instead of starting a server of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("extract", "transform", "load", "flows")  # installed as newsetl.<folder>
PACKAGE_DATA = (
    "newsetl/flows/feeds.yaml",
    "newsetl/flows/datasette.yaml",
    "newsetl/transform/taxonomy.yaml",
    "newsetl/transform/aliases.yaml",
    "newsetl/load/migrations/script.py.mako",
    "newsetl/load/migrations/env.py",
)
# Left out of the copy the wheel is built from: setuptools would reuse a stale build/ or egg-info.
NOT_SOURCE = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db")

# Where the installed newsetl's modules and files are, and whether the editable install's finder loaded.
WHERE_IS_NEWSETL = """
import importlib.metadata, json, sys
import newsetl, newsetl.flows.cli, newsetl.flows.settings, newsetl.load.migrate
print(json.dumps({
    "paths": [*newsetl.__path__, newsetl.flows.cli.__file__, str(newsetl.flows.settings.BUNDLED_FEEDS),
              str(newsetl.load.migrate.MIGRATIONS), str(importlib.metadata.distribution("newsetl")._path)],
    "editable_finders": [name for name in sys.modules if name.startswith("__editable__")],
}))
"""
# Each entrypoint given, loaded in turn (one interpreter for all: importing Prefect takes seconds).
LOAD_ENTRYPOINTS = """
import inspect, sys
from prefect.flows import load_flow_from_entrypoint
for entrypoint in sys.argv[1:]:
    flow = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
    print(entrypoint, flow.name, inspect.getsourcefile(flow.fn))
"""


def run(args, env, cwd, timeout=180) -> str:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}\n{output}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "newsetl"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    pip_wheel = ["wheel", "--no-index", "--no-deps", "--no-build-isolation", "--check-build-dependencies"]
    run([sys.executable, "-m", "pip", *pip_wheel, "--no-cache-dir", "-w", out, source], os.environ, out)
    (built,) = out.glob("newsetl-*.whl")
    return built


@pytest.fixture(scope="module")
def outside(tmp_path_factory, prefect_api) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout, and an environment that names nothing in it."""
    workdir = tmp_path_factory.mktemp("outside")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not Path(p).is_relative_to(ROOT)]
    env = {name: os.environ[name] for name in ("LANG", "LC_ALL", "TZ") if name in os.environ}
    env |= {
        "PATH": os.pathsep.join(path),
        "HOME": str(workdir),
        "PREFECT_HOME": str(workdir / "prefect"),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "NEWSETL_PER_HOST_DELAY": "0",
        "NEWSETL_WORKERS": "1",
    }
    assert not [value for value in env.values() if str(ROOT) in value]
    return workdir, env


@pytest.fixture(scope="module")
def venv(wheel, outside, tmp_path_factory) -> Path:
    """A new virtualenv with the wheel installed and this one's site-packages behind its own."""
    workdir, env = outside
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", venv], env, workdir)
    python = venv / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env, workdir)
    ours = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    (Path(purelib.strip()) / "newsetl-test-dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    # --ignore-installed: pip sees the editable newsetl through the .pth and must not try to replace it.
    pip_install = ["install", "--no-index", "--no-deps", "--ignore-installed", "--no-cache-dir"]
    run([python, "-m", "pip", *pip_install, wheel], env, workdir)
    run([python, "-m", "pip", "check"], env, workdir)
    return venv


def test_the_wheel_holds_only_the_newsetl_package_with_its_data(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    version = wheel.name.split("-")[1]
    assert {name.split("/")[0] for name in names} == {"newsetl", f"newsetl-{version}.dist-info"}
    # Every file of the four folders belongs in the wheel, at its place in the package.
    in_checkout = {
        f"newsetl/{path.relative_to(ROOT).as_posix()}"
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    migrations = {name for name in in_checkout if name.startswith("newsetl/load/migrations/versions/0")}
    assert set(PACKAGE_DATA) <= in_checkout and len(migrations) >= 3
    assert sorted(in_checkout - names) == []


def test_the_installed_newsetl_is_the_wheel_never_the_checkout(venv, outside) -> None:
    workdir, env = outside
    where = json.loads(run([venv / "bin" / "python", "-c", WHERE_IS_NEWSETL], env, workdir))
    assert where["editable_finders"] == []
    assert [p for p in where["paths"] if not Path(p).resolve().is_relative_to(venv.resolve())] == []
    assert all(Path(p).exists() for p in where["paths"])


def test_the_command_and_prefect_yaml_entrypoint_load_from_the_wheel(venv, outside) -> None:
    workdir, env = outside
    assert "usage: newsetl" in run([venv / "bin" / "newsetl", "--help"], env, workdir)
    # browse reads its Datasette metadata from the package (on PostgreSQL it prints the views named there)
    browse = [venv / "bin" / "newsetl", "browse", "--db", "postgresql+psycopg://reader@dbhost/news"]
    assert "topic_daily" in run(browse, env, workdir)
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    entrypoints = sorted({d["entrypoint"] for d in deployments})
    loaded = run([venv / "bin" / "python", "-c", LOAD_ENTRYPOINTS, *entrypoints], env, workdir).splitlines()
    assert [line.split()[0] for line in loaded] == entrypoints
    for line in loaded:
        entrypoint, name, source = line.split()
        assert name == entrypoint.rsplit(".", 1)[1]  # each flow is named as its function
        assert Path(source).resolve().is_relative_to(venv.resolve()), entrypoint


def test_db_upgrade_then_one_ingest_run_stores_tagged_articles(venv, outside, site) -> None:
    workdir, env = outside
    newsetl, db = venv / "bin" / "newsetl", workdir / "news.db"
    run([newsetl, "db", "upgrade", "--db", f"sqlite:///{db}"], env, workdir)
    current = run([newsetl, "db", "current", "--db", f"sqlite:///{db}"], env, workdir)
    assert re.search(r"database revision (\w+); this newsetl expects \1\b", current), current
    feed = site.url("/world.rss")
    run([newsetl, "run", feed, "--allow-network", "127.0.0.0/8", "--db", f"sqlite:///{db}"], env, workdir)
    with closing(sqlite3.connect(db)) as connection:
        articles = connection.execute("SELECT url, text FROM articles WHERE outcome = 'ok'").fetchall()
        topics = connection.execute(
            "SELECT DISTINCT topics.name FROM topics JOIN article_topics ON topics.id = topic_id"
        ).fetchall()
    stories = sorted(url.rsplit("/", 1)[1].split(".")[0] for url, _ in articles)
    assert stories == ["aid", "hostages", "talks"]
    assert all(len(text) > 200 for _, text in articles)
    assert ("ceasefire",) in topics  # the taxonomy shipped in the wheel was read
