"""Tables kept for longitudinal work. Every table has a natural unique key so loads can be upserts.

Times are UTC-aware (`UTCDateTime`); "first seen" and "fetched at" come from the database clock.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from newsetl.load.types import StoredJSON, StoredString, StoredText, StoredURL, UTCDateTime

# Named constraints, so migrations can address them by name on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Any:
    return func.now()


class Source(Base):
    """An outlet, e.g. "BBC News" (named in a feeds file) or "example.com" (found from its articles).

    `domain` is its registrable domain, held by one outlet at most; NULL for a named outlet whose domain
    another outlet held first (two names given to feeds of one domain).
    """

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(200), unique=True)
    domain: Mapped[str | None] = mapped_column(StoredString(255), index=True, unique=True)


class Feed(Base):
    """A feed URL with what conditional GET and polling need to remember between runs."""

    __tablename__ = "feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(StoredURL)
    url_key: Mapped[str] = mapped_column(StoredString(64), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    title: Mapped[str | None] = mapped_column(StoredText)
    status: Mapped[str] = mapped_column(StoredString(20), default="active", server_default="active")
    etag: Mapped[str | None] = mapped_column(StoredText)
    last_modified: Mapped[str | None] = mapped_column(StoredText)
    body_hash: Mapped[str | None] = mapped_column(StoredString(64))
    # Where the feed came from: "file" (a feeds file, synced each run), "cli" (`newsetl feeds add`), or
    # "adhoc" (URLs given to one `newsetl run`; never polled by a schedule).
    origin: Mapped[str] = mapped_column(StoredString(10), default="file", server_default="file")
    failure_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=1800, server_default="1800")
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last poll sent without validators and judged on its entries, not its body hash: done at least daily,
    # so a server that answers 304 (or the same bytes) when it should not cannot hide new entries forever.
    last_full_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())


class Run(Base):
    """One ingest run: its parameters, its counts and how it ended."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(StoredString(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(StoredString(20), default="running")
    parameters: Mapped[dict[str, Any]] = mapped_column(StoredJSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(StoredJSON, default=dict)
    error: Mapped[str | None] = mapped_column(StoredText)


class RunLock(Base):
    """Held by a running ingest so that two never overlap, whoever started them (schedule, hand, worker).

    A lease, not a flag: a run killed without cleaning up stops renewing it, and it lapses at `expires_at`.
    """

    __tablename__ = "run_locks"
    name: Mapped[str] = mapped_column(StoredString(100), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Host(Base):
    """What every run must remember about a host: a server's Retry-After, honoured until `not_before` by
    page fetches and feed polls alike, whichever kind of run comes next."""

    __tablename__ = "hosts"
    name: Mapped[str] = mapped_column(StoredString(255), primary_key=True)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(StoredText)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now(), onupdate=_now())


class FeedFetch(Base):
    """One poll of one feed, whatever it ended in."""

    __tablename__ = "feed_fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(StoredString(32))
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    entries_new: Mapped[int] = mapped_column(Integer, default=0)
    # Entries the feed listed that led to no page: no usable link, a link repeated within the feed; and
    # entries whose published date lay in the future and was dropped. Counted, so nothing vanishes unseen.
    entries_without_link: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entries_duplicate: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dates_nulled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(StoredText)


class Article(Base):
    """One story, keyed by its normalised URL. `outcome` is 'ok' once text was stored; text is never
    replaced by a failed later fetch."""

    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    url_key: Mapped[str] = mapped_column(StoredString(64), unique=True)
    url: Mapped[str] = mapped_column(StoredURL)
    final_url: Mapped[str | None] = mapped_column(StoredURL)
    canonical_url: Mapped[str | None] = mapped_column(StoredURL)
    title: Mapped[str | None] = mapped_column(StoredText)
    authors: Mapped[list[str]] = mapped_column(StoredJSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    # The UTC day the article is counted on: its publication day, else the day it was first stored. A
    # column, not an expression over the two, so that period queries use one index alike on both databases.
    day: Mapped[date | None] = mapped_column(Date, index=True)

    __table_args__ = (
        # Period queries count stored articles per day and outlet, and look up the day and outlet of the
        # articles a topic or an entity is in: both from these indexes alone, never from the rows, whose
        # text (stored before `day` and `source_id`) SQLite would have to walk past. Partial: only stored
        # articles count.
        Index(
            "ix_articles_stored_day", "day", "source_id",
            sqlite_where=text("outcome = 'ok'"), postgresql_where=text("outcome = 'ok'"),
        ),
        Index(
            "ix_articles_stored_id", "id", "day", "source_id",
            sqlite_where=text("outcome = 'ok'"), postgresql_where=text("outcome = 'ok'"),
        ),
    )  # fmt: skip
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(StoredString(16))
    # The character encoding the page was decoded with (HTTP charset, then <meta>, then detection).
    encoding: Mapped[str | None] = mapped_column(StoredString(40))
    text: Mapped[str | None] = mapped_column(StoredText)
    content_hash: Mapped[str | None] = mapped_column(StoredString(64))
    outcome: Mapped[str] = mapped_column(StoredString(32), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # The outlet: the named source of the first feed that listed it, else the outlet of its registrable
    # domain. Set when the article is first stored; NULL only until the next run adopts it.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)


class PageFetch(Base):
    """One attempt to fetch and extract one article page, whatever it ended in."""

    __tablename__ = "page_fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(StoredString(32))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(StoredText)


class ArticleVersion(Base):
    """Content an article had before a re-fetch found different title or text (newest lives in articles)."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "content_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    content_hash: Mapped[str] = mapped_column(StoredString(64))
    title: Mapped[str | None] = mapped_column(StoredText)
    text: Mapped[str | None] = mapped_column(StoredText)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())


class FeedItem(Base):
    """Which feed listed which article: one story, many feeds."""

    __tablename__ = "feed_items"
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True, index=True)
    guid: Mapped[str | None] = mapped_column(StoredText)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())


class ArticleTagging(Base):
    """An article was tagged by this tagger version (whether or not it found anything): what `retag`
    resumes from, and how a series is counted under one version. Earlier versions' rows stay until pruned."""

    __tablename__ = "article_taggings"
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    tagger: Mapped[str] = mapped_column(StoredString(200), primary_key=True, index=True)
    tagged_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    # The text was longer than the tagger reads, and only its head was tagged.
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Entity(Base):
    """A canonical entity: its one name (e.g. "Benjamin Netanyahu") and spaCy label."""

    __tablename__ = "entities"
    __table_args__ = (UniqueConstraint("name", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(300))
    label: Mapped[str] = mapped_column(StoredString(32))


class EntityAlias(Base):
    """A surface form that names a canonical entity ("IDF" -> Israel Defense Forces). `origin` says who
    said so: "file" (the aliases file), "article" (an article spelled the full name beside the short
    form; `articles` counts how many did), "database" (a lone surname matched the one well-known full
    name of that surname)."""

    __tablename__ = "entity_aliases"
    alias: Mapped[str] = mapped_column(StoredString(300), primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), primary_key=True, index=True)
    origin: Mapped[str] = mapped_column(StoredString(10))
    articles: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ArticleEntity(Base):
    """An entity's mentions in one article, as found by `tagger`; `surfaces` maps each form as written to
    its count, so a resolution can be undone."""

    __tablename__ = "article_entities"
    # An entity's articles under one version, from the index alone (trends, co-occurrence).
    __table_args__ = (Index("ix_article_entities_entity_tagger", "entity_id", "tagger", "article_id"),)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), primary_key=True)
    tagger: Mapped[str] = mapped_column(StoredString(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_offset: Mapped[int] = mapped_column(Integer)
    surfaces: Mapped[dict[str, int] | None] = mapped_column(StoredJSON)  # None: tagged before 0004


class Topic(Base):
    """A topic of a taxonomy version."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("name", "taxonomy_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(100))
    taxonomy_version: Mapped[str] = mapped_column(StoredString(50))


class ArticleTopic(Base):
    """A topic scored on one article by `tagger`, with its score and the sentence that shows it. `passed`:
    the score reached the taxonomy's threshold (the topic is assigned); a row that did not pass is kept
    when a strong term hit, so a reader can trade precision for recall at query time."""

    __tablename__ = "article_topics"
    # A topic's articles under one version, from the index alone (trends).
    __table_args__ = (Index("ix_article_topics_topic_tagger", "topic_id", "tagger", "passed", "article_id"),)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    tagger: Mapped[str] = mapped_column(StoredString(200), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(StoredText)
    passed: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class OutletDayCount(Base):
    """Stored articles per day and outlet, kept as they are stored (load/rollups.py): what a trend divides
    by, read without counting half a million articles."""

    __tablename__ = "outlet_day_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer)


class TopicDayCount(Base):
    """Stored articles per day and outlet with a topic that passed, per tagger version (load/rollups.py)."""

    __tablename__ = "topic_day_counts"
    tagger: Mapped[str] = mapped_column(StoredString(200), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer)


# Feed health reads a feed's polls in time order.
Index("ix_feed_fetches_feed_time", FeedFetch.feed_id, FeedFetch.fetched_at)
