"""Daily counts kept beside the rows they count, so that a trend over a year reads a few thousand rows,
not half a million articles.

- `outlet_day_counts`: stored articles per day and outlet (the denominator of attention);
- `topic_day_counts`: articles per day and outlet with a topic that passed, per tagger version.

Each is kept by adding what a transaction adds, exactly once: an article is counted when it becomes
stored (an 'ok' row is never rewritten), a topic row when it is inserted (a tag row is never rewritten
either), an article stored before outlets existed when it gets its outlet (before that it is counted
nowhere). Pruning a version deletes its counts. `rebuild` computes both from the rows, as the migration
that created them did; tests/integration/test_rollups.py holds the kept counts to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select
from sqlalchemy.orm import Session

from newsetl.load.models import Article, ArticleTopic, OutletDayCount, TopicDayCount
from newsetl.load.rows import chunks, dialect_insert


def count_stored_articles(session: Session, article_ids: Iterable[int]) -> None:
    """Add articles that have just become stored (and have an outlet) to the per-day counts."""
    for chunk in chunks(sorted(set(article_ids))):
        _add(session, OutletDayCount, ["day", "source_id"], _stored_per_day(Article.id.in_(chunk)))


def count_new_topics(session: Session, rows: Sequence[tuple[int, int, str]]) -> None:
    """Add just-inserted topic rows that passed, (article id, topic id, tagger), to the per-day counts."""
    days = _days_and_outlets(session, {article_id for article_id, _, _ in rows})
    counts: Counter[tuple[Any, ...]] = Counter()
    for article_id, topic_id, tagger in rows:
        if article_id in days:  # stored, with an outlet (else counted when it gets one)
            counts[(tagger, topic_id, *days[article_id])] += 1
    _upsert(session, TopicDayCount, TOPIC_KEY, [_row(TOPIC_KEY, key, n) for key, n in counts.items()])


def _days_and_outlets(session: Session, article_ids: set[int]) -> dict[int, tuple[Any, int]]:
    found = {}
    for chunk in chunks(sorted(article_ids)):
        query = select(Article.id, Article.day, Article.source_id).where(Article.id.in_(chunk), *_COUNTED)
        found.update({article_id: (day, source) for article_id, day, source in session.execute(query)})
    return found


def count_adopted_articles(session: Session, article_ids: Iterable[int]) -> None:
    """Add articles that have just got their outlet: their stored row and every version's topics."""
    ids = sorted(set(article_ids))
    count_stored_articles(session, ids)
    for chunk in chunks(ids):
        _add(session, TopicDayCount, TOPIC_KEY, _topics_per_day(Article.id.in_(chunk)))


def forget_taggers(session: Session, keep: str) -> int:
    """Delete the counts of every version but `keep` (as `taggers prune` deletes their rows)."""
    return session.execute(delete(TopicDayCount).where(TopicDayCount.tagger != keep)).rowcount or 0


def rebuild(session: Session | Connection) -> None:
    """Both tables computed again from the rows (for rows written around the store: tests, benchmarks)."""
    session.execute(delete(OutletDayCount))
    session.execute(delete(TopicDayCount))
    session.execute(insert(OutletDayCount).from_select(["day", "source_id", "articles"], _stored_per_day()))
    session.execute(insert(TopicDayCount).from_select([*TOPIC_KEY, "articles"], _topics_per_day()))


TOPIC_KEY = ["tagger", "topic_id", "day", "source_id"]


# What is counted: stored articles with a day and an outlet (an article gets its outlet with its row, or,
# stored before outlets existed, from the next run).
_COUNTED = (Article.outcome == "ok", Article.source_id.is_not(None), Article.day.is_not(None))


def _stored_per_day(*conditions: Any) -> Select[Any]:
    return (
        select(Article.day, Article.source_id, func.count())
        .where(*_COUNTED, *conditions)
        .group_by(Article.day, Article.source_id)
    )


def _topics_per_day(*conditions: Any) -> Select[Any]:
    return (
        select(ArticleTopic.tagger, ArticleTopic.topic_id, Article.day, Article.source_id, func.count())
        .join(Article, Article.id == ArticleTopic.article_id)
        .where(ArticleTopic.passed, *_COUNTED, *conditions)
        .group_by(ArticleTopic.tagger, ArticleTopic.topic_id, Article.day, Article.source_id)
    )


def _add(session: Session, model: Any, key: list[str], per_day: Select[Any]) -> None:
    _upsert(session, model, key, [_row(key, row[:-1], row[-1]) for row in session.execute(per_day)])


def _row(key: list[str], values: Sequence[Any], articles: int) -> dict[str, Any]:
    return {**dict(zip(key, values, strict=True)), "articles": articles}


def _upsert(session: Session, model: Any, key: list[str], rows: list[dict[str, Any]]) -> None:
    """Add each row's count to the stored one: an increment, safe beside a concurrent run's (the database
    adds both), in key order so that two runs wait for each other instead of deadlocking."""
    if not rows:
        return
    rows.sort(key=lambda row: tuple(str(row[k]) for k in key))
    statement = dialect_insert(session, model)
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={"articles": model.articles + statement.excluded.articles}
    )
    session.execute(statement, rows)
