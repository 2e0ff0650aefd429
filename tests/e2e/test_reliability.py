"""Faults the whole flow must survive and what it must record, read back from the database: Retry-After
remembered across runs, a server that lies with 304, entries that lead nowhere, the page's encoding and the
tagger's truncation flag, and no secret handed to Prefect."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from newsetl.flows.ingest import TAGGER_MAX_CHARS, ingest
from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleTagging, Feed, FeedFetch, Host
from tests.e2e.conftest import HTML, SITE, run_flow
from tests.localserver import LocalServer, Response

RSS = {"Content-Type": "application/rss+xml"}


def _rss(server: LocalServer, *items: str, title: str = "Outlet") -> bytes:
    entries = "".join(
        f"<item><title>{path}</title><link>{server.url(path)}</link><guid>{path}</guid></item>"
        for path in items
    )
    return f"<rss version='2.0'><channel><title>{title}</title>{entries}</channel></rss>".encode()


def _page(name: str) -> Response:
    return Response((SITE / f"{name}.html").read_bytes(), headers=HTML)


def _rows(database_url: str, *columns: object) -> list[tuple[object, ...]]:
    with make_engine(database_url).connect() as db:
        return [tuple(row) for row in db.execute(select(*columns))]


# --- Retry-After remembered across runs, for pages and feeds --------------------------------------------


def test_a_retry_after_is_stored_and_honoured_by_the_next_run_for_feeds_and_pages(
    server, database_url
) -> None:
    server.routes["/feed.rss"] = Response(_rss(server, "/talks.html", "/aid.html"), headers=RSS)
    server.routes["/talks.html"] = Response(b"", 429, {"Retry-After": "3600"})
    server.routes["/aid.html"] = _page("aid")

    first = run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    assert first["page_outcomes"] == {"rate_limited": 1, "deferred": 1}
    ((name, not_before),) = _rows(database_url, Host.name, Host.not_before)
    assert name == "127.0.0.1" and timedelta(minutes=59) < not_before - datetime.now(UTC) <= timedelta(
        hours=1
    )
    requests = len(server.requests)
    server.routes["/talks.html"] = _page("talks")

    second = run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    # The host still asks us to wait: its feed is not polled and its pages are not fetched, by this run too.
    assert second["feed_outcomes"] == {"deferred": 1} and len(server.requests) == requests
    assert _rows(database_url, FeedFetch.outcome)[-1] == ("deferred",)
    assert _rows(database_url, Feed.next_poll_at)[0][0] >= not_before
    # Both pages were due for a retry, and both were deferred, without using up an attempt.
    assert sorted(_rows(database_url, Article.outcome, Article.attempts)) == [
        ("deferred", 0),
        ("deferred", 1),
    ]


# --- a server that lies with 304 ------------------------------------------------------------------------


def test_a_feed_answering_304_is_polled_in_full_once_a_day(server, database_url) -> None:
    lies = {"304": False}

    def feed(handler) -> None:
        if lies["304"] and handler.headers.get("If-None-Match"):
            handler.send_response(304)  # "nothing new", whatever changed
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = _rss(server, "/talks.html", *(["/aid.html"] if lies["304"] else []))
        handler.send_response(200)
        handler.send_header("ETag", '"v1"')
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server.routes["/feed.rss"] = feed
    server.routes["/talks.html"], server.routes["/aid.html"] = _page("talks"), _page("aid")
    assert run_flow(database_url, feed_urls=[server.url("/feed.rss")])["articles_new"] == 1
    lies["304"] = True  # from now on: a new entry, hidden behind 304s

    hidden = run_flow(database_url, feed_urls=[server.url("/feed.rss")])
    assert hidden["feed_outcomes"] == {"not_modified": 1} and hidden["articles_new"] == 0
    with Session(make_engine(database_url)) as session, session.begin():  # a day passes
        session.execute(
            update(Feed).values(last_full_poll_at=datetime.now(UTC) - timedelta(days=1, minutes=1))
        )

    daily = run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    assert daily["feed_outcomes"] == {"ok": 1} and daily["articles_new"] == 1
    (last_full,) = _rows(database_url, Feed.last_full_poll_at)[0]
    assert datetime.now(UTC) - last_full < timedelta(minutes=5)


# --- recorded, not dropped --------------------------------------------------------------------------------


def test_entries_that_lead_nowhere_are_counted_on_the_poll(server, tmp_path) -> None:
    # One database is enough: the entries are judged before anything is stored, and the counts are plain
    # integer columns of the poll's row, written as every poll's are on both databases elsewhere.
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    items = (
        f"<item><title>a</title><link>{server.url('/talks.html')}</link><pubDate>{future}</pubDate></item>"
        f"<item><title>again</title><link>{server.url('/talks.html?utm_source=rss')}</link></item>"
        "<item><title>no link</title><guid isPermaLink='false'>x</guid></item>"
        "<item><title>mail</title><link>mailto:desk@outlet.example</link></item>"
    )
    server.routes["/feed.rss"] = Response(
        f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode(), headers=RSS
    )
    server.routes["/talks.html"] = _page("talks")

    run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    columns = (
        FeedFetch.entries_seen,
        FeedFetch.entries_without_link,
        FeedFetch.entries_duplicate,
        FeedFetch.dates_nulled,
    )
    assert _rows(database_url, *columns) == [(1, 2, 1, 1)]


def test_the_pages_encoding_is_stored(server, tmp_path) -> None:
    # One database is enough: the encoding is chosen before anything is stored, and kept in a plain text
    # column of the article's row, written as the rest of the row is on both databases elsewhere.
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    server.routes["/cafe.html"] = Response(
        (Path(__file__).parents[1] / "fixtures" / "pages" / "cp1252-article.html").read_bytes(),
        headers={"Content-Type": "text/html; charset=utf-8"},  # mislabelled: the bytes are windows-1252
    )
    server.routes["/talks.html"] = _page("talks")
    server.routes["/feed.rss"] = Response(_rss(server, "/talks.html", "/cafe.html"), headers=RSS)

    run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    rows = {url.rsplit("/", 1)[1]: rest for url, *rest in _rows(database_url, Article.url, Article.encoding)}
    assert rows == {"talks.html": ["utf-8"], "cafe.html": ["cp1252"]}


def test_an_article_longer_than_the_tagger_reads_is_flagged_truncated(server, tmp_path) -> None:
    # One database is enough: the flag is a plain boolean column; the tagging of 100,000 characters is slow.
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    paragraphs = "".join(
        f"<p>On day {day} of the talks, negotiators met again in Cairo to discuss a ceasefire, the release "
        f"of hostages and aid convoy number {day * 7}; mediators said round {day} ended without a deal.</p>"
        for day in range(1, 600)
    )
    long_page = f"<html><head><title>Long</title></head><body><article>{paragraphs}</article></body></html>"
    server.routes["/long.html"] = Response(long_page.encode(), headers=HTML)
    server.routes["/talks.html"] = _page("talks")
    server.routes["/feed.rss"] = Response(_rss(server, "/long.html", "/talks.html"), headers=RSS)

    run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    with make_engine(database_url).connect() as db:
        query = select(Article.url, ArticleTagging.truncated).join(ArticleTagging)
        rows = dict(tuple(row) for row in db.execute(query))
    assert {url.rsplit("/", 1)[1]: flag for url, flag in rows.items()} == {
        "long.html": True,
        "talks.html": False,
    }
    ((length,),) = _rows(database_url, func.max(func.length(Article.text)))
    assert length > TAGGER_MAX_CHARS  # the whole text is kept; only the tagger read less of it


# --- no secret reaches Prefect ----------------------------------------------------------------------------


def test_the_flow_takes_no_database_url_or_network_setting_as_a_parameter() -> None:
    parameters = set(inspect.signature(ingest.fn).parameters)
    assert parameters == {"feed_urls", "feeds_file", "limit", "due_only", "shard"}
    with pytest.raises(TypeError):
        ingest(database_url="postgresql://user:secret@db/news")


# --- a link of 5,000 characters ---------------------------------------------------------------------------


def test_a_5000_character_link_is_stored_whole_on_both_databases(server, database_url) -> None:
    path = "/" + "long-slug-" * 500  # 5,001 characters with the slash
    server.routes["/feed.rss"] = Response(_rss(server, path, "/talks.html"), headers=RSS)
    server.routes[path] = _page("aid")
    server.routes["/talks.html"] = _page("talks")

    summary = run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    assert summary["page_outcomes"] == {"ok": 2}
    stored = [url for (url,) in _rows(database_url, Article.url) if "long-slug" in url]
    assert stored == [server.url(path)]
