"""Odd and hostile input through the whole flow: each feed and page ends in one recorded outcome."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from newsetl.load.db import make_engine
from newsetl.load.models import Article, FeedFetch
from tests.conftest import corpus_dir
from tests.databases import data_counts
from tests.e2e.conftest import run_flow
from tests.localserver import LocalServer, Response

CONTENT_TYPES = {".json": "application/json", ".html": "text/html"}
NOT_FEEDS = {"LICENSE", "LICENSE-MIT", "SOURCE.txt"}


def _serve_feed_corpus(server: LocalServer) -> list[str]:
    root = corpus_dir("feeds")
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in NOT_FEEDS and not p.name.endswith(".serde.json")
    )
    urls = []
    for path in paths:
        route = "/" + path.relative_to(root).as_posix()
        content_type = CONTENT_TYPES.get(path.suffix, "application/xml")  # no charset: the bytes must tell
        server.routes[route] = Response(path.read_bytes(), headers={"Content-Type": content_type})
        urls.append(server.url(route))
    return urls


def test_the_real_world_feed_corpus_is_polled_without_a_crash(server, database_url) -> None:
    urls = _serve_feed_corpus(server)

    # --limit 0: poll and parse every feed, fetch no page (their links point at hosts on the internet).
    summary = run_flow(database_url, feed_urls=urls, limit=0)

    assert summary["feeds_polled"] == len(urls) == 140
    assert summary["feed_outcomes"] == {"ok": 130, "not_a_feed": 9, "parse_error": 1}
    assert summary["articles_deferred"] > 500 and summary["articles_new"] == 0
    assert sorted(server.paths_requested()) == sorted(url.removeprefix(server.url("")) for url in urls)
    engine = make_engine(database_url)
    with engine.connect() as db:
        polls = Counter(db.execute(select(FeedFetch.outcome)).scalars())
    assert polls == Counter(summary["feed_outcomes"])
    before = data_counts(engine)

    again = run_flow(database_url, feed_urls=urls, limit=0)

    # Feeds with entries left for later were polled in full again; the rest (empty feeds) were unchanged.
    assert again["feeds_failed"] == 10 and again["feeds_polled"] - again["feeds_not_modified"] - 10 == 120
    assert again["feed_outcomes"]["not_modified"] == 10
    assert data_counts(engine) == before


def _million_elements() -> bytes:
    return b"<html><body><article>" + b"<p><b>x</b></p>" * 600_000 + b"</article></body></html>"


def test_a_page_that_overruns_its_cpu_deadline_is_killed_and_recorded(server, tmp_path, monkeypatch) -> None:
    # One database is enough: what is tested is the worker pool's deadline and the outcome it gives; an
    # extract_timeout row is stored as every other failed outcome is, which the other flow tests check on
    # both databases. The run takes its 2 s deadline and a new worker each time.
    database_url = f"sqlite:///{tmp_path / 'news.db'}"
    monkeypatch.setenv("NEWSETL_EXTRACT_DEADLINE", "2")
    html = {"Content-Type": "text/html; charset=utf-8"}
    article = (corpus_dir("seed") / "gaza-ceasefire-article.txt").read_text()
    server.routes["/huge.html"] = Response(_million_elements(), headers=html)
    server.routes["/fine.html"] = Response(
        f"<html><head><title>Ceasefire talks</title></head><body><article><h1>Ceasefire talks</h1>"
        f"<p>{article}</p></article></body></html>".encode(),
        headers=html,
    )
    items = "".join(
        f"<item><title>{p}</title><link>{server.url(p)}</link></item>" for p in ("/huge.html", "/fine.html")
    )
    server.routes["/feed.rss"] = Response(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode(),
        headers={"Content-Type": "application/rss+xml"},
    )

    summary = run_flow(database_url, feed_urls=[server.url("/feed.rss")])

    assert summary["page_outcomes"] == {"extract_timeout": 1, "ok": 1}
    with make_engine(database_url).connect() as db:
        outcomes = dict(db.execute(select(Article.url, Article.outcome)).all())
    assert outcomes == {server.url("/huge.html"): "extract_timeout", server.url("/fine.html"): "ok"}
