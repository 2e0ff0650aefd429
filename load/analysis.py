"""The questions people ask the database: attention over time, who is mentioned, who with whom.

Every count is of stored articles (`outcome = 'ok'`) under ONE tagger version, so a series never mixes two
definitions of a topic or an entity; a topic counts where its row `passed`. An article's date is
`articles.day`: its publication date, else the day it was first seen (some feeds give none), in UTC.
Periods are named by their first day: the day itself, the Monday of an ISO week, the first of a month.

Filters (`Filters`) are the same for every question: the tagger version, a date range (days, both ends
included), and outlets. What the dialects do differently (naming a day's week or month) is in
`_period`; the rest is plain SQL that means the same on both.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Select,
    String,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTagging,
    ArticleTopic,
    Entity,
    EntityAlias,
    OutletDayCount,
    Source,
    Topic,
    TopicDayCount,
)
from newsetl.transform.errors import ConfigError

Period = Literal["day", "week", "month"]
# 'ok' written into the SQL, not bound: the partial indexes on stored articles serve a query only when its
# condition is the index's own, and SQLite cannot see that through a parameter.
STORED = literal_column("'ok'")
PERIODS: tuple[Period, ...] = ("day", "week", "month")


class UnknownName(ConfigError):
    """A topic, entity, outlet or tagger version the database does not know; the message names the
    nearest ones it does."""


@dataclass(frozen=True, slots=True)
class Filters:
    tagger: str
    since: date | None = None  # first day counted
    until: date | None = None  # last day counted
    sources: tuple[str, ...] = ()  # outlet names or domains; empty: every outlet
    by: Period = "day"


@dataclass(frozen=True, slots=True)
class TrendRow:
    period: str  # first day of the period, YYYY-MM-DD
    outlet: str
    articles: int  # the outlet's articles in the period with the topic (or entity)
    outlet_articles: int  # all the outlet's articles in the period, tagged by the version
    attention: float  # articles / outlet_articles


@dataclass(frozen=True, slots=True)
class EntityRow:
    entity: str
    label: str
    articles: int
    mentions: int


@dataclass(frozen=True, slots=True)
class CooccurrenceRow:
    entity: str
    label: str
    articles: int  # articles mentioning both
    share: float  # of the articles mentioning the given entity


@dataclass(frozen=True, slots=True)
class OutletDayRow:
    day: str  # YYYY-MM-DD
    outlet: str
    articles: int  # the outlet's articles that day (every topic), tagged by the version


@dataclass(frozen=True, slots=True)
class Silence:
    outlet: str
    first_day: str  # the first and last day of a run of days without an article from the outlet
    last_day: str
    days: int


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    day: str
    outlet: str
    title: str | None
    score: float
    evidence: str | None  # the sentence that shows the topic
    url: str


# --- the questions ---------------------------------------------------------------------------------------


def topic_trend(session: Session, topic: str, filters: Filters) -> list[TrendRow]:
    """Per period and outlet: articles with `topic`, all stored articles, and the share (attention)."""
    counts = TopicDayCount
    hits = (  # the rows as they are: _trend sums them per period and outlet
        select(counts.day, counts.source_id, counts.articles)
        .where(counts.topic_id.in_(topic_ids(session, topic)), counts.tagger == filters.tagger)
        .where(*_day_conditions(session, counts, filters))
    )
    return _trend(session, hits, filters)


def entity_trend(session: Session, entity: str, filters: Filters) -> list[TrendRow]:
    """Per period and outlet: articles mentioning `entity` (a canonical name or an alias), all stored
    articles, and the share."""
    entity_ids = entity_ids_of(session, entity, filters.tagger)
    mentioning = (  # each article once, though it may mention two of the ids (a name with two labels)
        select(ArticleEntity.article_id)
        .where(ArticleEntity.entity_id.in_(entity_ids), ArticleEntity.tagger == filters.tagger)
        .distinct()
        .subquery()
    )
    # A row of 1 per article, summed with the stored counts by _trend: no grouping per day first.
    hits = (
        select(Article.day, Article.source_id, literal(1).label("articles"))
        .select_from(mentioning)
        .join(Article, Article.id == mentioning.c.article_id)
        .where(*_article_conditions(session, filters))
    )
    return _trend(session, from_article_index(hits), filters)


def top_entities(
    session: Session, filters: Filters, top: int, topic: str | None = None, labels: Sequence[str] = ()
) -> list[EntityRow]:
    """The entities in the most articles (then mentions), within articles with `topic` if given."""
    mentions = _mentions(session, filters)
    if topic is not None:
        mentions = mentions.join(
            ArticleTopic,
            (ArticleTopic.article_id == ArticleEntity.article_id)
            & (ArticleTopic.tagger == ArticleEntity.tagger),
        ).where(*_topic_conditions(session, topic, filters.tagger))
    articles, total = func.count(ArticleEntity.article_id), func.sum(ArticleEntity.count)
    query = (
        mentions.join(Entity, Entity.id == ArticleEntity.entity_id)
        .with_only_columns(Entity.name, Entity.label, articles, total)
        .group_by(Entity.id, Entity.name, Entity.label)
        .order_by(articles.desc(), total.desc(), Entity.name, Entity.label)
        .limit(top)
    )
    if labels:
        query = query.where(Entity.label.in_(labels))
    return [EntityRow(name, label, int(n), int(m)) for name, label, n, m in session.execute(query)]


def cooccurring(session: Session, entity: str, filters: Filters, top: int) -> list[CooccurrenceRow]:
    """The entities mentioned in the most articles that also mention `entity`."""
    entity_ids = entity_ids_of(session, entity, filters.tagger)
    with_entity = (
        _mentions(session, filters)
        .where(ArticleEntity.entity_id.in_(entity_ids))
        .with_only_columns(ArticleEntity.article_id.label("id"))
        .distinct()
        .subquery()
    )
    total = session.scalar(select(func.count()).select_from(with_entity)) or 0
    other = aliased(ArticleEntity)
    # Counted by id, then named: the names are joined to one row per entity, not to every pair (ten
    # times as many for a common entity).
    together = (
        select(other.entity_id, func.count().label("articles"))  # a row per article and entity and version
        .select_from(with_entity)
        .join(other, other.article_id == with_entity.c.id)
        .where(other.tagger == filters.tagger, other.entity_id.not_in(entity_ids))
        .group_by(other.entity_id)
        .subquery()
    )
    query = (
        select(Entity.name, Entity.label, together.c.articles)
        .join(Entity, Entity.id == together.c.entity_id)
        .order_by(together.c.articles.desc(), Entity.name, Entity.label)
        .limit(top)
    )
    return [CooccurrenceRow(name, label, int(n), n / total) for name, label, n in session.execute(query)]


def outlet_days(session: Session, filters: Filters) -> list[OutletDayRow]:
    """Per outlet, the days it published on and its articles each day, whatever their topics: whether an
    outlet kept publishing, beside what it published about."""
    day = period_of(session, "day")
    per_article = (
        stored_articles(session, filters)
        .with_only_columns(day.label("day"), Article.source_id.label("source_id"))
        .subquery()
    )
    query = (
        select(per_article.c.day, Source.name, func.count())
        .join(Source, Source.id == per_article.c.source_id)
        .group_by(per_article.c.day, Source.name)
        .order_by(Source.name, per_article.c.day)
    )
    return [OutletDayRow(str(d), outlet, int(n)) for d, outlet, n in session.execute(query)]


def every_day(rows: Sequence[OutletDayRow], last_day: date) -> list[OutletDayRow]:
    """`outlet_days` with the silent days put in (0 articles): each outlet's days from its first article
    to `last_day`. Days before an outlet's first article are not silence: it may not have been followed."""
    counts: dict[str, dict[date, int]] = {}
    for row in rows:
        counts.setdefault(row.outlet, {})[date.fromisoformat(row.day)] = row.articles
    filled = []
    for outlet, days in counts.items():
        day, end = min(days), max(last_day, *days)
        while day <= end:
            filled.append(OutletDayRow(day.isoformat(), outlet, days.get(day, 0)))
            day += timedelta(days=1)
    return filled


def silences(filled: Sequence[OutletDayRow]) -> list[Silence]:
    """The runs of silent days in `every_day`'s rows (by outlet, then day), longest first."""
    found = []
    for (outlet, silent), run in groupby(filled, key=lambda row: (row.outlet, row.articles == 0)):
        if silent:
            days = list(run)
            found.append(Silence(outlet, days[0].day, days[-1].day, len(days)))
    return sorted(found, key=lambda s: (-s.days, s.outlet, s.first_day))


def topic_evidence(session: Session, topic: str, filters: Filters, limit: int) -> list[EvidenceRow]:
    """The latest articles with `topic` (by their day, newest first), each with the sentence that shows it."""
    topics = topic_ids(session, topic)
    day = period_of(session, "day")
    query = (
        stored_articles(session, filters)
        .join(ArticleTopic, ArticleTopic.article_id == Article.id)
        .join(Source, Source.id == Article.source_id)
        .where(ArticleTopic.topic_id.in_(topics), ArticleTopic.tagger == filters.tagger, ArticleTopic.passed)
        .with_only_columns(
            day, Source.name, Article.title, ArticleTopic.score, ArticleTopic.evidence, Article.url
        )
        # the day first (an index), then the moment within it
        .order_by(
            Article.day.desc(),
            func.coalesce(Article.published_at, Article.first_seen_at).desc(),
            Article.id.desc(),
        )
        .limit(limit)
    )
    return [
        EvidenceRow(str(d), outlet, title, float(score), evidence, url)
        for d, outlet, title, score, evidence, url in session.execute(query)
    ]


# --- trends ----------------------------------------------------------------------------------------------


def _trend(session: Session, hits: Select[Any], filters: Filters) -> list[TrendRow]:
    """`hits` (rows of day, source_id, articles; several per day and outlet are summed) over every stored
    article of the outlets, per period and outlet.

    The stored articles per day and outlet are kept counted (load/rollups.py): a year of a large database
    has half a million articles but at most days x outlets counts, and the periods are made in SQL, so
    that only a row per period and outlet comes back. The hits and the stored counts are summed in one
    pass over both (UNION ALL), grouped by the outlet's id, and named only then: joining the two per day
    and grouping by the outlet's name cost twice as long on a million articles (SQLite built an index for
    the join; PostgreSQL sorted every day's row by its text keys, on disk).
    """
    totals = OutletDayCount
    stored = select(
        totals.day, totals.source_id, literal(0).label("articles"), totals.articles.label("stored")
    )
    found = select(*hits.subquery().c, literal(0).label("stored"))
    both = union_all(stored.where(*_day_conditions(session, totals, filters)), found).subquery()
    period = period_of(session, filters.by, both.c.day).label("period")
    per_outlet = (
        select(
            period,
            both.c.source_id,
            func.sum(both.c.articles).label("found"),
            func.sum(both.c.stored).label("stored"),
        )
        .group_by(period, both.c.source_id)
        .having(func.sum(both.c.stored) > 0)  # only where the outlet has stored articles, as a ratio needs
        .subquery()
    )
    query = (
        select(per_outlet.c.period, Source.name, per_outlet.c.found, per_outlet.c.stored)
        .join(Source, Source.id == per_outlet.c.source_id)
        .order_by(per_outlet.c.period, Source.name)
    )
    # Through the connection: a plain Core result, without the ORM's result handling (a year of weeks for
    # 300 outlets is 16,000 rows). Sums are Decimal on PostgreSQL.
    rows = session.connection().execute(query)
    return [_trend_row(str(p), outlet, int(n), int(total)) for p, outlet, n, total in rows]


def _trend_row(period: str, outlet: str, articles: int, stored: int) -> TrendRow:
    return TrendRow(period, outlet, articles, stored, articles / stored)


def from_article_index(query: Select[Any]) -> Select[Any]:
    """`query`, reading each article's day and outlet from ix_articles_stored_id, never from its row: for
    a query that needs of an article no more than its id, day and outlet.

    SQLite would look each article up by its primary key, the row itself, and walk past its text to reach
    `day` and `source_id` (ten times slower on a million articles); it takes the index only when told
    (INDEXED BY: load/db.py's compiler places the hint). PostgreSQL picks the index itself.
    """
    stored = query.where(Article.outcome == STORED)  # the index holds stored articles only
    return stored.with_hint(Article, "INDEXED BY ix_articles_stored_id", dialect_name="sqlite")


# --- what every question counts --------------------------------------------------------------------------


def _article_conditions(session: Session, filters: Filters) -> list[ColumnElement[bool]]:
    """The date range and outlets asked for, on `articles`."""
    return _day_conditions(session, Article, filters)


def _day_conditions(session: Session, counts: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """The date range and outlets asked for, on a table with `day` and `source_id` (`articles`, or a
    per-day count table of load/rollups.py)."""
    conditions = []
    if filters.since is not None:
        conditions.append(counts.day >= filters.since)
    if filters.until is not None:
        conditions.append(counts.day <= filters.until)
    if filters.sources:
        conditions.append(counts.source_id.in_(source_ids_of(session, filters.sources)))
    return conditions


def _topic_conditions(session: Session, topic: str, tagger: str) -> list[ColumnElement[bool]]:
    """Rows of `article_topics` that assign `topic` under `tagger`."""
    return [
        ArticleTopic.topic_id.in_(topic_ids(session, topic)),
        ArticleTopic.tagger == tagger,
        ArticleTopic.passed,
    ]


def _mentions(session: Session, filters: Filters) -> Select[Any]:
    """Entity rows of the version, joined to their articles only when a date range or outlet asks to
    (a row exists only for a stored article the version tagged)."""
    query = select(ArticleEntity.article_id).where(ArticleEntity.tagger == filters.tagger)
    conditions = _article_conditions(session, filters)
    if conditions:
        query = query.join(Article, Article.id == ArticleEntity.article_id).where(*conditions)
    return query


def stored_articles(session: Session, filters: Filters) -> Select[Any]:
    """Stored articles the tagger version tagged, in the date range and outlets asked for."""
    query = (
        select(Article.id)
        .join(ArticleTagging, ArticleTagging.article_id == Article.id)
        .where(ArticleTagging.tagger == filters.tagger, Article.outcome == "ok")
    )
    return query.where(*_article_conditions(session, filters))


def period_of(session: Session, by: Period, day_column: Any = Article.day) -> ColumnElement[Any]:
    """The first day of the period of a day (the article's by default): 'YYYY-MM-DD' text on SQLite, a
    date on PostgreSQL; str() of either is YYYY-MM-DD, and both sort as days do."""
    if _dialect(session) == "sqlite":  # a DATE is 'YYYY-MM-DD' text there
        day = type_coerce(day_column, String)
        if by == "day":
            return day
        if by == "week":  # back to Monday: to the next Sunday (or this one), then six days back
            return func.date(day, "weekday 0", "-6 days")
        return func.strftime("%Y-%m-01", day)
    if by == "day":
        return day_column
    # On a timestamp without time zone, not the session's zone; a date key groups and sorts at half the
    # cost of the text to_char made (a weekly trend over a year: 120,000 daily rows).
    return cast(func.date_trunc(by, cast(day_column, DateTime)), Date)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# --- names -----------------------------------------------------------------------------------------------


def source_ids_of(session: Session, names: Sequence[str]) -> tuple[int, ...]:
    """Outlet ids by name or domain; an unknown one is an UnknownName naming the nearest outlets."""
    rows = session.execute(select(Source.id, Source.name, Source.domain)).all()
    ids = []
    for wanted in names:
        found = [i for i, name, domain in rows if wanted in (name, domain)]
        if not found:
            known = [name for _, name, _ in rows] + [d for _, _, d in rows if d]
            raise UnknownName(_unknown("outlet", wanted, known, "newsetl sources list"))
        ids += found
    return tuple(sorted(set(ids)))


def topic_ids(session: Session, topic: str) -> tuple[int, ...]:
    ids = tuple(session.scalars(select(Topic.id).where(Topic.name == topic)))
    if not ids:
        known = sorted(set(session.scalars(select(Topic.name))))
        raise UnknownName(_unknown("topic", topic, known, "docs/topics.md"))
    return ids


def entity_ids_of(session: Session, name: str, tagger: str) -> tuple[int, ...]:
    """Entities named `name` (any label), or that `name` is an alias of."""
    by_name = select(Entity.id).where(Entity.name == name)
    by_alias = select(EntityAlias.entity_id).where(EntityAlias.alias == name)
    ids = tuple(sorted(set(session.scalars(by_name.union(by_alias)))))
    if not ids:
        known = _frequent_entity_names(session, tagger)
        raise UnknownName(_unknown("entity", name, known, "newsetl entities"))
    return ids


def _frequent_entity_names(session: Session, tagger: str, limit: int = 5000) -> list[str]:
    """The names most worth suggesting: the entities in the most articles (all of them on a small base)."""
    count = func.count(ArticleEntity.article_id)
    query = (
        select(Entity.name)
        .join(ArticleEntity, ArticleEntity.entity_id == Entity.id)
        .where(ArticleEntity.tagger == tagger)
        .group_by(Entity.name)
        .order_by(count.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def check_tagger(session: Session, tagger: str) -> None:
    """An UnknownName unless some article was tagged by `tagger`, naming the versions that did."""
    if session.scalar(select(ArticleTagging.article_id).where(ArticleTagging.tagger == tagger).limit(1)):
        return
    versions = list(session.scalars(select(ArticleTagging.tagger).distinct()))
    hint = f"stored versions: {', '.join(sorted(versions))}" if versions else "no article is tagged yet"
    raise UnknownName(
        f"no article is tagged by {tagger}; run `newsetl retag` to tag them under it, or pass --tagger "
        f"({hint})"
    )


def _unknown(kind: str, wanted: str, known: Sequence[str], where: str) -> str:
    nearest = difflib.get_close_matches(wanted, list(dict.fromkeys(known)), n=5, cutoff=0.5)
    if not nearest:
        lowered = wanted.lower()
        nearest = [k for k in dict.fromkeys(known) if lowered in k.lower()][:5]
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    return f"no {kind} {wanted!r} in the database{hint} (see {where})"
