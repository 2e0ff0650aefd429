"""What `newsetl run` shows, as a user's shell or a script sees it: a real process over the local site.

At a terminal (a pseudo-terminal here) a bar per stage and the summary; without one the same, less the
bars; -v adds a line per feed and page, --quiet leaves only the summary, --json one object for scripts.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsetl.flows.cli import main
from newsetl.load.db import make_engine
from newsetl.load.locks import acquire_lock
from newsetl.load.models import Article, ArticleEntity, ArticleTopic, FeedFetch, PageFetch, Run
from tests.e2e.conftest import write_feeds_file
from tests.localserver import LocalServer

NEWSETL = Path(sys.executable).with_name("newsetl")  # this checkout's command, whatever PATH holds
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # a control sequence: colour, cursor movement
BAR = "━"  # what rich draws a bar with
SUMMARY = re.compile(r"^run \d+ completed in [\d.]+ s\n  feeds .*\n  articles .*\n  tagged .*\n\Z")
# Environment that would change how rich draws, left out so that each test decides what the output is.
DRAWING = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "TERM")


def _env(prefect_api: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in DRAWING}
    return {**env, "PREFECT_API_URL": prefect_api, **extra}


def _run(site: LocalServer, tmp_path: Path, *options: str) -> list[str]:
    feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
    return [str(NEWSETL), "run", "--feeds", str(feeds), "--db", _db(tmp_path), *options]


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'news.db'}"


def _at_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`command` with a pseudo-terminal of 120 columns as its stdout and stderr; its exit code and all it
    wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    written = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    return process.wait(timeout=60), written.decode(errors="replace")


def _piped(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _per_item_lines(output: str) -> Counter[str]:
    return Counter(kind for kind in re.findall(r"\b(feed|page) fetched url=", output))


def test_at_a_terminal_run_draws_a_bar_per_stage_and_keeps_the_per_item_lines_off_it(
    site: LocalServer, tmp_path, prefect_api
) -> None:
    env = _env(prefect_api, TERM="xterm-256color")
    code, screen = _at_a_terminal(_run(site, tmp_path), env)

    assert code == 0, screen
    assert BAR in screen and ANSI.search(screen)
    screen = ANSI.sub("", screen)
    # Every feed and page counted once as its result came in: the bars end full, never past it.
    assert re.search(r"feeds polled\s.*\b2/2\b", screen) and re.search(r"pages fetched\s.*\b6/6\b", screen)
    assert re.search(r"\b\d+\.\d/s\b", screen)  # the rate
    assert _per_item_lines(screen) == Counter()
    assert "Task run" not in screen and "Flow run" not in screen  # Prefect's own lines: only with -v
    assert "run 1 completed in" in screen and "articles  new 4, duplicate 1, failed 2" in screen


def test_json_is_one_object_whose_counts_match_the_database_and_v_shows_every_feed_and_page(
    site: LocalServer, tmp_path, prefect_api
) -> None:
    log = tmp_path / "run.log"
    # FORCE_COLOR is set by some CI systems; output that is not a terminal still gets no control codes.
    command = _run(site, tmp_path, "--json", "-v", "--log-file", str(log))
    done = _piped(command, _env(prefect_api, FORCE_COLOR="1"))

    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    summary = json.loads(line)
    assert summary == {**summary, "feeds_polled": 2, "articles_new": 4, "articles_failed": 2}
    with make_engine(_db(tmp_path)).connect() as db:
        run = summary["run_id"]
        feeds = Counter(db.scalars(select(FeedFetch.outcome).where(FeedFetch.run_id == run)))
        pages = Counter(db.scalars(select(PageFetch.outcome).where(PageFetch.run_id == run)))
        articles = Counter(db.scalars(select(Article.outcome)))
        entities = db.execute(select(func.count()).select_from(ArticleEntity)).scalar_one()
        topics = db.execute(select(func.count()).select_from(ArticleTopic)).scalar_one()
    assert summary["feed_outcomes"] == dict(feeds) and summary["page_outcomes"] == dict(pages)
    assert summary["articles_new"] == articles["ok"]
    assert summary["articles_failed"] == articles.total() - articles["ok"]
    assert summary["entities_tagged"] == entities > 0 and summary["topics_tagged"] == topics > 0

    assert _per_item_lines(done.stderr) == Counter(feed=2, page=6)
    assert "Flow run" in done.stderr and "Finished in state Completed" in done.stderr  # Prefect's, with -v
    assert not ANSI.search(done.stdout + done.stderr) and BAR not in done.stderr
    assert _per_item_lines(log.read_text()) == Counter(feed=2, page=6)


def test_without_a_terminal_a_run_shows_the_summary_and_warnings_and_quiet_only_the_summary(
    site: LocalServer, tmp_path, prefect_api
) -> None:
    env = _env(prefect_api, FORCE_COLOR="1")
    # --limit 0: the feeds are polled (a line each with -v), their pages left for later; no page workers.
    plain = _piped(_run(site, tmp_path, "--limit", "0"), env)
    assert plain.returncode == 0, plain.stderr
    assert SUMMARY.match(plain.stdout) and "left for later 6" in plain.stdout
    assert plain.stderr == ""  # no per-feed lines, no Prefect lines, and nothing went wrong

    with Session(make_engine(_db(tmp_path))) as session, session.begin():  # as a run elsewhere would
        assert acquire_lock(session, "ingest:0/1", 99, timedelta(minutes=5), datetime.now(UTC)) is None
    skipped = _piped(_run(site, tmp_path, "--limit", "0"), env)
    quiet = _piped(_run(site, tmp_path, "--limit", "0", "--quiet"), env)

    assert skipped.returncode == quiet.returncode == 1
    assert re.fullmatch(r"run \d+ not started: run 99 holds ingest:0/1 until [\d:]+ UTC\n", skipped.stdout)
    assert "WARNING" in skipped.stderr and "not started: run 99 holds" in skipped.stderr  # kept by default
    assert not ANSI.search(plain.stdout + skipped.stdout + skipped.stderr)
    assert re.fullmatch(r"run \d+ not started: run 99 holds .*\n", quiet.stdout) and quiet.stderr == ""


def test_a_log_file_that_cannot_be_written_stops_the_run_before_it_starts(tmp_path, capsys) -> None:
    log = tmp_path / "no such folder" / "run.log"
    assert main(["run", "https://feeds.example/rss", "--db", _db(tmp_path), "--log-file", str(log)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "cannot write the log file" in line and "--log-file" in line
    assert "No such file or directory" in line
    with make_engine(_db(tmp_path)).connect() as db:
        assert db.execute(select(func.count()).select_from(Run)).scalar_one() == 0
