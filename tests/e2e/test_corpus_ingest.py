"""The real article corpus (../shared/corpus/articles) through the whole flow: every page loads once."""

from __future__ import annotations

from sqlalchemy import func, select

from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleEntity
from tests.conftest import corpus_dir
from tests.corpus_site import ground_truth, serve_articles
from tests.databases import data_counts
from tests.e2e.conftest import run_flow


def test_every_corpus_page_loads_once_and_a_rerun_adds_nothing(server, database_url, monkeypatch) -> None:
    articles_dir = corpus_dir("articles")
    monkeypatch.setenv("NEWSETL_WORKERS", "2")
    feed_urls = serve_articles(server, articles_dir, feeds=2)
    pages = len(ground_truth(articles_dir))

    first = run_flow(database_url, feed_urls=feed_urls)

    assert first["feeds_polled"] == 2 and first["feeds_failed"] == 0
    assert first["articles_new"] == pages, first["page_outcomes"]
    engine = make_engine(database_url)
    with engine.connect() as db:
        assert db.execute(select(func.count()).where(Article.outcome == "ok")).scalar_one() == pages
        assert db.execute(select(func.count()).select_from(ArticleEntity)).scalar_one() > pages
    before, requests = data_counts(engine), len(server.requests)

    second = run_flow(database_url, feed_urls=feed_urls)

    assert second["articles_new"] == 0 and second["feed_outcomes"] == {"not_modified": 2}
    assert len(server.requests) - requests == 2  # the two feeds, no page
    assert data_counts(engine) == before
