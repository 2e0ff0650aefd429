"""`newsetl browse`: Datasette on the SQLite database, read-only, with the views and the canned queries of
flows/datasette.yaml answering over its JSON API; a PostgreSQL database gets how to connect instead."""

from __future__ import annotations

import asyncio
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from newsetl.flows.browse import datasette, view_names
from newsetl.flows.cli import main
from newsetl.load import rollups
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTagging,
    ArticleTopic,
    Entity,
    EntityAlias,
    Source,
    Topic,
)
from tests.databases import fresh_database
from tests.processes import answers, free_port, wait_until

BIN = Path(sys.executable).parent
EARLIER, LATER = datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)


def _news_database(url: str) -> None:
    """Two outlets, four stored articles (one tagged by no version) and a failed fetch; version v1 tagged
    two articles, the newer v2 three. Under v2 only article 1 has ceasefire (3 scored it, not passed), and
    the IDF (an alias) is mentioned with Hamas in article 1 and with Gaza in articles 1 and 3."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        session.execute(
            insert(Source),
            [{"id": 1, "name": "Example News", "domain": "example.org"},
             {"id": 2, "name": "Other Post", "domain": "other.net"}],
        )  # fmt: skip
        session.execute(
            insert(Article),
            [_article(1, 1, "2024-02-10", "Truce holds"), _article(2, 1, "2024-03-05", "Markets"),
             _article(3, 2, "2024-02-11", "Talks in Cairo"), _article(4, 2, "2024-02-11", "Untagged"),
             _article(5, 2, "2024-02-11", "Not fetched", outcome="extract_empty")],
        )  # fmt: skip
        session.execute(
            insert(ArticleTagging),
            [{"article_id": a, "tagger": "v1", "tagged_at": EARLIER} for a in (1, 3)]
            + [{"article_id": a, "tagger": "v2", "tagged_at": LATER} for a in (1, 2, 3)],
        )
        session.execute(insert(Topic), [{"id": 1, "name": "ceasefire", "taxonomy_version": "3"}])
        session.execute(
            insert(ArticleTopic),
            [{"article_id": 1, "topic_id": 1, "tagger": "v1", "score": 0.8, "passed": True},
             {"article_id": 3, "topic_id": 1, "tagger": "v1", "score": 0.7, "passed": True},
             {"article_id": 1, "topic_id": 1, "tagger": "v2", "score": 0.9, "passed": True,
              "evidence": "The truce held overnight."},
             {"article_id": 3, "topic_id": 1, "tagger": "v2", "score": 0.3, "passed": False}],
        )  # fmt: skip
        session.execute(
            insert(Entity),
            [{"id": 1, "name": "Hamas", "label": "ORG"}, {"id": 2, "name": "Gaza", "label": "GPE"},
             {"id": 3, "name": "Israel Defense Forces", "label": "ORG"}],
        )  # fmt: skip
        session.execute(insert(EntityAlias), [{"alias": "IDF", "entity_id": 3, "origin": "file"}])
        mentions = {("v1", 1): (1, 2), ("v2", 1): (1, 2, 3), ("v2", 3): (2, 3)}
        session.execute(
            insert(ArticleEntity),
            [{"article_id": article, "entity_id": entity, "tagger": tagger, "count": 2, "first_offset": 0}
             for (tagger, article), entities in mentions.items() for entity in entities],
        )  # fmt: skip
        rollups.rebuild(session)  # the per-day counts the store keeps as it loads
    engine.dispose()  # the last connection closed: the WAL is checkpointed into the file


def _article(id: int, source_id: int, day: str, title: str, outcome: str = "ok") -> dict[str, Any]:
    published = datetime.fromisoformat(f"{day}T09:00:00+00:00")
    return {"id": id, "url_key": f"k{id}", "url": f"https://example.org/{id}", "title": title,
            "outcome": outcome, "authors": [], "published_at": published, "day": published.date(),
            "source_id": source_id}  # fmt: skip


class Browser:
    """The JSON API of a running `newsetl browse`."""

    def __init__(self, port: int, database: str) -> None:
        self.base, self.database = f"http://127.0.0.1:{port}", database

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, timeout=30)
        assert response.status_code == 200, (path, response.text[:500])
        return response.json()

    def rows(self, name: str, **params: str) -> list[dict[str, Any]]:
        return self.get(f"/{self.database}/{name}.json", _shape="objects", **params)["rows"]


def test_browse_serves_the_views_and_canned_queries_of_the_live_file_and_stops_on_ctrl_c(tmp_path) -> None:
    database, port = tmp_path / "news.db", free_port()
    url = f"sqlite:///{database}"
    _news_database(url)
    log = tmp_path / "browse.log"
    command = [BIN / "newsetl", "browse", "--db", url, "--port", str(port), "--no-open"]
    with log.open("w") as output:
        browse = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            browser = Browser(port, "news")
            wait_until(lambda: answers(f"{browser.base}/news.json"), browse, log, timeout=60)
            _check_views_and_queries(browser)
            _check_a_row_written_meanwhile_shows(browser, url)
        finally:
            browse.send_signal(signal.SIGINT)
            stopping = time.monotonic()
            code = browse.wait(timeout=30)
    printed = log.read_text()
    assert code == 0 and time.monotonic() - stopping < 10, printed
    assert f"at http://127.0.0.1:{port}/news, read-only" in printed and "Traceback" not in printed, printed


def _check_views_and_queries(browser: Browser) -> None:
    listing = browser.get("/news.json")
    described = browser.get("/-/metadata.json")["databases"]["news"]["tables"]
    views = [view["name"] for view in listing["views"]]
    assert sorted(views) == sorted(view_names())  # every view of the schema, each described
    assert all(described[view]["description"] for view in views)
    assert browser.rows("latest_tagger") == [{"tagger": "v2"}]
    assert sorted(tuple(r.values()) for r in browser.rows("topic_daily")) == [
        ("2024-02-10", "v1", "ceasefire", 1, "Example News", 1, 1, 1.0),
        ("2024-02-10", "v2", "ceasefire", 1, "Example News", 1, 1, 1.0),
        (
            "2024-02-11",
            "v1",
            "ceasefire",
            2,
            "Other Post",
            1,
            2,
            0.5,
        ),  # of its stored articles, tagged or not
    ]
    for view in views:
        assert browser.rows(view), view

    queries = {query["name"] for query in listing["queries"]}
    assert queries == {"attention_by_month", "mentioned_with", "latest_with_topic", "outlets_per_day"}
    assert browser.rows("attention_by_month", topic="ceasefire") == [
        {"month": "2024-02", "outlet": "Example News", "articles": 1, "outlet_articles": 1, "attention": 1.0},
        {"month": "2024-02", "outlet": "Other Post", "articles": 0, "outlet_articles": 2, "attention": 0.0},
        {"month": "2024-03", "outlet": "Example News", "articles": 0, "outlet_articles": 1, "attention": 0.0},
    ]
    assert browser.rows("mentioned_with", entity="IDF") == [
        {"entity": "Gaza", "label": "GPE", "articles": 2, "share": 1.0},
        {"entity": "Hamas", "label": "ORG", "articles": 1, "share": 0.5},
    ]
    assert browser.rows("mentioned_with", entity="Israel Defense Forces") == browser.rows(
        "mentioned_with", entity="IDF"
    )
    (latest,) = browser.rows("latest_with_topic", topic="ceasefire")
    assert latest["published"].startswith("2024-02-10 09:00:00")
    assert {k: v for k, v in latest.items() if k != "published"} == {
        "article_id": 1, "outlet": "Example News", "title": "Truce holds", "url": "https://example.org/1",
        "score": 0.9, "evidence": "The truce held overnight.",
    }  # fmt: skip
    assert browser.rows("outlets_per_day") == [
        {"day": "2024-03-05", "outlet": "Example News", "articles": 1, "tagged": 1},
        {"day": "2024-02-11", "outlet": "Other Post", "articles": 2, "tagged": 1},
        {"day": "2024-02-10", "outlet": "Example News", "articles": 1, "tagged": 1},
    ]


def _check_a_row_written_meanwhile_shows(browser: Browser, url: str) -> None:
    """Datasette reads the live file (not immutable mode), so what a run writes while it serves shows."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(insert(Source), [{"id": 3, "name": "Written Meanwhile", "domain": "meanwhile.org"}])
        session.execute(insert(Article), [_article(6, 3, "2024-06-01", "New")])
    engine.dispose()
    assert browser.rows("outlets_per_day")[0] == {
        "day": "2024-06-01",
        "outlet": "Written Meanwhile",
        "articles": 1,
        "tagged": 0,
    }


def test_datasette_cannot_write_to_the_database_it_serves(tmp_path) -> None:
    """Datasette's one way to write (what plugins and writable canned queries use) is refused."""
    database = tmp_path / "news.db"
    _news_database(f"sqlite:///{database}")
    served = datasette(database).get_database("news")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(served.execute_write("DELETE FROM sources"))
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM sources").fetchone() == (2,)


def test_browse_on_postgresql_prints_a_working_psql_line_without_the_password(tmp_path, capsys) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        name = make_url(url).database
        with_password = make_url(url).set(password="s3cret-pw").render_as_string(hide_password=False)
        assert main(["browse", "--db", with_password]) == 0
        printed = capsys.readouterr().out
        assert name in printed and "s3cret" not in printed
        assert all(view in printed for view in view_names())
        (psql,) = [line.strip() for line in printed.splitlines() if line.strip().startswith("psql ")]
        done = subprocess.run(
            [*shlex.split(psql), "-Atc", "SELECT count(*) FROM topic_daily"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (done.returncode, done.stdout) == (0, "0\n"), done.stderr


def test_browse_a_sqlite_file_that_does_not_exist_exits_2_and_creates_nothing(tmp_path, capsys) -> None:
    missing = tmp_path / "missing.db"
    assert main(["browse", "--db", f"sqlite:///{missing}", "--no-open"]) == 2
    assert f"no SQLite database at '{missing}'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_browse_a_database_at_another_schema_revision_exits_2_saying_to_upgrade(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(make_engine(url), "0001")
    assert main(["browse", "--db", url, "--no-open"]) == 2
    assert "run `newsetl db upgrade`" in capsys.readouterr().err


def test_browse_on_a_port_in_use_exits_2_naming_the_port(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    _news_database(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["browse", "--db", url, "--port", str(port), "--no-open"]) == 2
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in capsys.readouterr().err
