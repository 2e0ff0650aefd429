"""The per-day counts trends read are kept by the writers as they go, and always equal a count of the rows:
through loading, retrying, loading again, adopting articles stored before outlets, retagging and pruning.
On a real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from newsetl.flows.outlets import adopt_orphans
from newsetl.load import rollups, store, tags
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import OutletDayCount, TopicDayCount
from newsetl.transform.records import ExtractedArticle, FeedSpec, Listing, PageResult, Tagging, TopicHit

V1, V2 = "tagger-1", "tagger-2"


def _tagging(tagger: str, *topics: tuple[str, bool]) -> Tagging:
    return Tagging(topics=tuple(TopicHit(t, 0.9 if ok else 0.4, "…", ok) for t, ok in topics), tagger=tagger)


def _page(
    key: str, day: int, outcome: str = "ok", feed_id: int = 1, tagging: Tagging | None = None
) -> PageResult:
    published = datetime(2024, 3, day, 12, tzinfo=UTC)
    article = ExtractedArticle("Title", "Text.", (), published, "en", None) if outcome == "ok" else None
    return PageResult(
        url_key=key,
        url=f"https://news.example.org/{key}",
        outcome=outcome,
        http_status=200 if article else 503,
        duration_ms=1,
        listings=(Listing(feed_id, key),),
        fetched_at=published,
        article=article,
        tagging=(tagging or _tagging(V1, ("ceasefire", True), ("hostages", False))) if article else None,
        outlet_domain="news.example.org",
    )


@pytest.fixture
def session(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        with session.begin():
            store.upsert_feeds(
                session,
                [
                    FeedSpec("https://a.example.org/rss", "k1", "Named", "a.example.org"),
                    FeedSpec("https://b.org/rss", "k2"),
                ],
            )
        yield session
    engine.dispose()


def _load(session: Session, pages: list[PageResult]) -> None:
    with session.begin():
        store.load_pages(session, store.start_run(session, {}, None), pages, "3")


def _kept_and_counted(
    session: Session,
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """The counts as kept, and as `rollups.rebuild` computes them from the rows (then rolled back)."""
    with session.begin():
        kept = _counts(session)
        with session.begin_nested() as rebuilt:
            rollups.rebuild(session)
            counted = _counts(session)
            rebuilt.rollback()
    return kept, counted


def _counts(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "outlets": sorted(
            tuple(r)
            for r in session.execute(
                select(OutletDayCount.day, OutletDayCount.source_id, OutletDayCount.articles)
            )
        ),
        "topics": sorted(
            tuple(r)
            for r in session.execute(
                select(
                    TopicDayCount.tagger,
                    TopicDayCount.topic_id,
                    TopicDayCount.day,
                    TopicDayCount.source_id,
                    TopicDayCount.articles,
                )
            )
        ),
    }


def _assert_kept_as_counted(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    kept, counted = _kept_and_counted(session)
    assert kept == counted
    return kept


def test_the_counts_follow_every_write_and_equal_a_count_of_the_rows(session) -> None:
    _load(session, [_page("a", 1), _page("b", 1, feed_id=2), _page("c", 2, "server_error")])
    after_first = _assert_kept_as_counted(session)
    assert sum(n for *_, n in after_first["outlets"]) == 2 and sum(n for *_, n in after_first["topics"]) == 2

    _load(session, [_page("a", 1), _page("b", 1, feed_id=2), _page("c", 2, "server_error")])  # again
    assert _assert_kept_as_counted(session) == after_first

    _load(session, [_page("c", 2)])  # the failed page, stored at last
    assert sum(n for *_, n in _assert_kept_as_counted(session)["outlets"]) == 3

    with session.begin():  # a retag under a second version, of two of them
        ids = dict(session.execute(text("SELECT url_key, id FROM articles")).all())
        retag = [(ids["a"], _tagging(V2, ("ceasefire", True))), (ids["c"], _tagging(V2, ("hostages", True)))]
        tags.store_taggings(session, retag, "4")
        tags.store_taggings(session, retag, "4")  # twice: nothing more
    assert {r[0] for r in _assert_kept_as_counted(session)["topics"]} == {V1, V2}

    _orphan(session, "d", ids_after=ids)
    assert adopt_orphans(_writer(session)) == 1
    assert sum(n for *_, n in _assert_kept_as_counted(session)["outlets"]) == 4

    with session.begin():
        tags.prune_taggers(session, V2)
    assert {r[0] for r in _assert_kept_as_counted(session)["topics"]} == {V2}


def _orphan(session: Session, key: str, ids_after: dict[str, int]) -> None:
    """An article stored before outlets existed: no outlet, tagged, counted nowhere yet."""
    with session.begin():
        session.execute(
            text(
                "INSERT INTO articles (url_key, url, authors, outcome, attempts, day, text) "
                "VALUES (:k, 'https://elsewhere.org/d', '[]', 'ok', 1, :day, 'x')"
            ),
            {"k": key, "day": datetime(2024, 3, 3).date()},
        )
        article_id = session.execute(
            text("SELECT id FROM articles WHERE url_key = :k"), {"k": key}
        ).scalar_one()
        tags.store_taggings(session, [(article_id, _tagging(V1, ("ceasefire", True)))], "3")


def _writer(session: Session) -> Callable[[Callable[[Session], Any], str], Any]:
    def write(work: Callable[[Session], Any], _what: str) -> Any:
        with session.begin():
            return work(session)

    return write
