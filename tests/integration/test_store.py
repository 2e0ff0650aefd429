"""Idempotent loads into a real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsetl.load import store
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import Article, Entity, PageFetch, Run
from newsetl.transform.records import (
    EntityCount,
    ExtractedArticle,
    FeedPoll,
    FeedSpec,
    Listing,
    PageResult,
    Tagging,
    TopicHit,
)
from tests.databases import data_counts

TAGGING = Tagging(
    entities=(EntityCount("Gaza", "GPE", 3, 10), EntityCount("Hamas", "ORG", 1, 40)),
    topics=(TopicHit("ceasefire", 0.8, "A truce was agreed."),),
    tagger="test-tagger",
)


def _article(text: str = "A truce was agreed in Gaza.\x00") -> ExtractedArticle:
    return ExtractedArticle(
        "Truce", text.replace("\x00", ""), ("A. Writer",), datetime(2024, 2, 1, tzinfo=UTC), "en", None
    )


def _page(key: str, outcome: str = "ok", feed_id: int = 1) -> PageResult:
    ok = outcome == "ok"
    return PageResult(
        url_key=key,
        url=f"https://news.example/{key}",
        outcome=outcome,
        http_status=200 if ok else 503,
        duration_ms=5,
        listings=(Listing(feed_id, key),),
        article=_article() if ok else None,
        tagging=TAGGING if ok else None,
    )


@pytest.fixture
def session(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        feeds = store.upsert_feeds(
            session,
            [
                FeedSpec("https://news.example/rss", "k1", "News", "news.example"),
                FeedSpec("https://other.example/rss", "k2", "Other", "other.example"),
            ],
        )
        assert [f.id for f in feeds] == [1, 2]
    with Session(engine) as session:
        yield session


def _load(session: Session, pages: list[PageResult]) -> store.BatchCounts:
    with session.begin():
        run_id = store.start_run(session, {}, None)
        return store.load_pages(session, run_id, pages, "1")


def test_loading_the_same_batch_twice_adds_no_data_row(session) -> None:
    first = _load(session, [_page("a"), _page("b"), _page("c", "server_error")])
    before = data_counts(session.get_bind())
    second = _load(session, [_page("a"), _page("b"), _page("c", "server_error")])
    assert (first.articles_new, first.articles_failed, first.entities_tagged, first.topics_tagged) == (
        2,
        1,
        4,
        2,
    )
    assert second.articles_new == 0 and second.entities_tagged == 0
    after = data_counts(session.get_bind())
    assert after == before and after["entities"] == 2 and after["article_entities"] == 4


def test_a_failed_refetch_never_overwrites_stored_text(session) -> None:
    _load(session, [_page("a")])
    _load(session, [_page("a", "server_error")])
    article = session.execute(select(Article).where(Article.url_key == "a")).scalar_one()
    assert (article.outcome, article.text, article.attempts) == ("ok", "A truce was agreed in Gaza.", 1)


def test_a_transient_failure_is_replaced_by_a_later_success_and_counts_attempts(session) -> None:
    _load(session, [_page("a", "timeout")])
    _load(session, [_page("a", "timeout")])
    counts = _load(session, [_page("a")])
    article = session.execute(select(Article).where(Article.url_key == "a")).scalar_one()
    assert (article.outcome, article.attempts, counts.articles_new) == ("ok", 3, 1)
    assert session.execute(select(Entity.name).order_by(Entity.name)).scalars().all() == ["Gaza", "Hamas"]


def test_one_article_listed_by_two_feeds_has_two_links(session) -> None:
    _load(session, [_page("a", feed_id=1)])
    with session.begin():
        assert (
            store.link_feed_items(
                session, [("a", Listing(2, "g")), ("a", Listing(1, "a")), ("zz", Listing(2, None))]
            )
            == 2
        )
    assert data_counts(session.get_bind())["feed_items"] == 2


def test_an_article_is_counted_on_its_publication_day_else_on_the_day_it_was_first_seen(session) -> None:
    seen = datetime(2024, 3, 1, 23, 59, tzinfo=UTC)
    undated = replace(_page("undated"), fetched_at=seen, article=replace(_article(), published_at=None))
    late = replace(_page("late", "timeout"), fetched_at=seen)
    _load(session, [_page("dated"), undated, late])
    # A retry a day later finds the undated page again, and the late one with a publication date.
    _load(
        session,
        [replace(undated, outcome="timeout"), replace(_page("late"), fetched_at=seen + timedelta(days=1))],
    )
    with session.begin():
        days = dict(session.execute(select(Article.url_key, Article.day)).all())
    assert days == {"dated": date(2024, 2, 1), "undated": date(2024, 3, 1), "late": date(2024, 2, 1)}


def test_datetimes_come_back_utc_aware_on_every_dialect(session) -> None:
    _load(session, [_page("a")])
    article = session.execute(select(Article)).scalar_one()
    assert article.published_at == datetime(2024, 2, 1, tzinfo=UTC)
    assert article.first_seen_at.tzinfo is not None
    run = session.execute(select(Run)).scalar_one()
    assert run.started_at.utcoffset().total_seconds() == 0


def test_feed_validators_are_kept_only_from_successful_polls(session) -> None:
    with session.begin():
        run_id = store.start_run(session, {}, None)
        store.record_feed_poll(
            session, run_id, FeedPoll(1, "ok", 200, 3, 10, 10, etag='"v1"', body_hash="h1")
        )
        store.record_feed_poll(session, run_id, FeedPoll(2, "server_error", 500, 3, etag='"bogus"'))
    feeds = store.upsert_feeds(
        session, [FeedSpec("https://news.example/rss", "k1"), FeedSpec("https://other.example/rss", "k2")]
    )
    assert (feeds[0].etag, feeds[0].body_hash) == ('"v1"', "h1")
    assert (feeds[1].etag, feeds[1].body_hash) == (None, None)


def test_two_runs_updating_overlapping_batches_at_once_neither_deadlock_nor_duplicate(session) -> None:
    # Review finding: rows written in listing order deadlocked two PostgreSQL runs in 3 of 5 trials, when both
    # retried the same transiently failed pages in opposite orders.
    engine = session.get_bind()
    keys = [f"k{i:03d}" for i in range(300)]
    _load(session, [_page(key, "timeout") for key in keys])
    start = threading.Barrier(2)

    def retry(ordered: list[str], feed_id: int) -> None:
        start.wait()
        with Session(engine) as own, own.begin():
            store.load_pages(own, 1, [_page(key, "timeout", feed_id) for key in ordered], "1")

    for _ in range(5):
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(retry, keys, 1), pool.submit(retry, keys[::-1], 2)]:
                future.result()  # raises DeadlockDetected if the writers lock rows in different orders
    counts = data_counts(engine)
    assert (counts["articles"], counts["feed_items"]) == (300, 600)


# --- one refused row costs one row --------------------------------------------------------------------


def test_a_row_the_database_refuses_is_stored_as_load_error_and_its_batch_goes_on(session) -> None:
    # A listing by a feed that does not exist: the database refuses that page's feed link (a foreign key),
    # exactly the kind of one-row error that used to fail the batch and the run.
    counts = _load(session, [_page("a"), _page("b", feed_id=999), _page("c")])

    assert (counts.articles_new, counts.articles_refused, counts.articles_failed) == (2, 1, 1)
    assert dict(counts.outcomes) == {"ok": 2, "load_error": 1}
    rows = {a.url_key: a for a in session.scalars(select(Article))}
    assert (rows["a"].outcome, rows["c"].outcome, rows["b"].outcome) == ("ok", "ok", "load_error")
    assert rows["a"].text and rows["c"].text and rows["b"].text is None
    detail = session.scalars(select(PageFetch.detail).where(PageFetch.article_id == rows["b"].id)).one()
    assert "IntegrityError" in detail


def test_text_from_outside_is_stored_alike_on_both_databases(session) -> None:
    hostile = "a\x00b\x01c\r\nd\re\ud800f\u202eg\tend"
    page = replace(
        _page("a"),
        url="https://news.example/bad\x00path\ud800",
        detail=hostile,
        article=replace(_article(), title=hostile, authors=(hostile,)),
        tagging=replace(TAGGING, entities=(EntityCount("N" * 400 + "\x00", "PERSON", 1, 0),)),
    )
    _load(session, [page])

    article = session.scalars(select(Article)).one()
    assert article.title == "abc\nd\ne\ufffdf\u202eg\tend" and article.authors == [article.title]
    assert article.url == "https://news.example/bad%00path%ED%A0%80"
    assert session.scalars(select(PageFetch.detail)).one() == article.title
    assert session.scalars(select(Entity.name)).one() == "N" * 300  # the column's length, on both
