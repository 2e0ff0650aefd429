"""What `newsetl export` reads: articles, their entities and their topics, as rows streamed in batches.

Each source is a `Table`: its columns (name and kind, which the writers turn into a CSV header or a Parquet
schema) and a generator of batches, each a list of plain tuples. The rows are read through a server-side
cursor on PostgreSQL (`stream_results`) and fetched `batch_size` at a time on both dialects (`yield_per`),
so memory stays that of one batch however many rows there are; the whole export is one read transaction,
so it is one consistent snapshot while runs go on writing.

The articles are those every query counts (`analysis.stored_articles`): stored (`outcome = 'ok'`), tagged by
the one tagger version of the `Filters`, in its days and outlets; the entity and topic rows are that
version's.
A row's `day` is the day queries count the article on: its publication day, else the day it was first
seen, in UTC. Rows come in article id order (then entity, topic id), so two exports of the same data are
the same file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, Text, and_, cast, text
from sqlalchemy.orm import Session

from newsetl.load import analysis
from newsetl.load.analysis import Filters
from newsetl.load.models import Article, ArticleEntity, ArticleTopic, Entity, Source, Topic

# Rows fetched, converted and written at a time: one Parquet row group each. Tag rows are small; article
# texts are not (tens of kilobytes each), so with them the batch is smaller.
BATCH_ROWS = 10_000
BATCH_ROWS_WITH_TEXT = 1_000

Kind = Literal["int", "text", "timestamp", "date", "float", "bool"]
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind  # int64, UTF-8 text, an aware UTC datetime, a date, float64, bool; any may be None


@dataclass(frozen=True, slots=True)
class Table:
    """Columns, and the rows in batches: lists of tuples whose values are in column order."""

    columns: tuple[Column, ...]
    batches: Iterator[list[Row]]


def _columns(*spec: tuple[str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in spec)


ARTICLE_COLUMNS = _columns(
    ("id", "int"),
    ("url", "text"),
    ("canonical_url", "text"),
    ("outlet", "text"),
    ("outlet_domain", "text"),
    ("title", "text"),
    ("authors", "text"),  # a JSON list of names
    ("published_at", "timestamp"),
    ("first_seen_at", "timestamp"),
    ("day", "date"),
    ("language", "text"),
)
TEXT_COLUMN = Column("text", "text")
ENTITY_COLUMNS = _columns(
    ("article_id", "int"),
    ("day", "date"),
    ("outlet", "text"),
    ("entity", "text"),
    ("label", "text"),
    ("count", "int"),
    ("surfaces", "text"),  # a JSON object: each form as written -> its count
)
TOPIC_COLUMNS = _columns(
    ("article_id", "int"),
    ("day", "date"),
    ("outlet", "text"),
    ("topic", "text"),
    ("score", "float"),
    ("passed", "bool"),
    ("evidence", "text"),
)


# --- the three sources -----------------------------------------------------------------------------------
# Each checks its arguments (outlets, topic) when called, before any row is read, and returns the batches
# as a generator: an unknown name fails before a file is created.


def articles(
    session: Session, filters: Filters, *, with_text: bool = False, batch_size: int | None = None
) -> Table:
    """One row per article; its `text` only `with_text` (the bulk of the database), and then in smaller
    batches unless `batch_size` is given."""
    fields: list[ColumnElement[Any]] = [
        Article.id,
        Article.url,
        Article.canonical_url,
        Source.name,
        Source.domain,
        Article.title,
        _json_text(Article.authors),
        Article.published_at,
        Article.first_seen_at,
        Article.day,
        Article.language,
    ]
    if with_text:
        fields.append(Article.text)
    query = (
        _with_outlet(analysis.stored_articles(session, filters))
        .with_only_columns(*fields)
        .order_by(Article.id)
    )
    columns = (*ARTICLE_COLUMNS, TEXT_COLUMN) if with_text else ARTICLE_COLUMNS
    if batch_size is None:
        batch_size = BATCH_ROWS_WITH_TEXT if with_text else BATCH_ROWS
    return Table(columns, _stream(session, query, _article_row, batch_size))


def _article_row(row: Row) -> Row:
    id_, url, canonical, outlet, domain, title, authors, published, first_seen, day, language, *text = row
    return (id_, url, canonical, outlet, domain, title, _readable(authors), published, first_seen, day,
            language, *text)  # fmt: skip


def entities(session: Session, filters: Filters, *, batch_size: int = BATCH_ROWS) -> Table:
    """One row per (article, entity) the version found: the entity's canonical name and label, its
    mentions in the article, and the forms they were written in."""
    query = (
        _with_outlet(analysis.stored_articles(session, filters))
        .join(ArticleEntity, _tagged_by(ArticleEntity, filters.tagger))
        .join(Entity, Entity.id == ArticleEntity.entity_id)
        .with_only_columns(
            Article.id,
            Article.day,
            Source.name,
            Entity.name,
            Entity.label,
            ArticleEntity.count,
            _json_text(ArticleEntity.surfaces),
        )
        .order_by(Article.id, ArticleEntity.entity_id)
    )
    query = analysis.from_article_index(query)  # day and outlet from an index, not each article's row
    return Table(ENTITY_COLUMNS, _stream(session, query, _entity_row, batch_size))


def _entity_row(row: Row) -> Row:
    article_id, day, outlet, entity, label, count, surfaces = row
    return (article_id, day, outlet, entity, label, count, _readable(surfaces))


def topics(
    session: Session,
    filters: Filters,
    *,
    topic: str | None = None,
    passed_only: bool = False,
    batch_size: int = BATCH_ROWS,
) -> Table:
    """One row per (article, topic) the version scored, passed or not (`passed` says which): a reader
    can trade precision for recall. `topic` keeps one topic (an UnknownName if the database has none of
    that name), `passed_only` the rows that passed."""
    query = (
        _with_outlet(analysis.stored_articles(session, filters))
        .join(ArticleTopic, _tagged_by(ArticleTopic, filters.tagger))
        .join(Topic, Topic.id == ArticleTopic.topic_id)
        .with_only_columns(
            Article.id,
            Article.day,
            Source.name,
            Topic.name,
            ArticleTopic.score,
            ArticleTopic.passed,
            ArticleTopic.evidence,
        )
        .order_by(Article.id, ArticleTopic.topic_id)
    )
    if topic is not None:
        query = query.where(ArticleTopic.topic_id.in_(analysis.topic_ids(session, topic)))
    if passed_only:
        query = query.where(ArticleTopic.passed)
    # Day and outlet from an index: SQLite would otherwise read each article's row past its text, and
    # start from every stored article rather than from the topic's rows (0.8 s against 0.3 s for a
    # year of a topic over 200,000 articles).
    query = analysis.from_article_index(query)
    return Table(TOPIC_COLUMNS, _stream(session, query, _topic_row, batch_size))


def _topic_row(row: Row) -> Row:
    article_id, day, outlet, topic, score, passed, evidence = row
    return (article_id, day, outlet, topic, score, bool(passed), evidence)


# --- shared ----------------------------------------------------------------------------------------------


def _with_outlet(query: Select[Any]) -> Select[Any]:
    # An outer join: an article stored before outlets existed has none until the next run adopts it, and
    # is exported all the same.
    return query.outerjoin(Source, Source.id == Article.source_id)


def _tagged_by(tags: type[ArticleEntity] | type[ArticleTopic], tagger: str) -> ColumnElement[bool]:
    return and_(tags.article_id == Article.id, tags.tagger == tagger)


def _stream(
    session: Session, query: Select[Any], convert: Callable[[Row], Row], batch_size: int
) -> Iterator[list[Row]]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    return _batches(session, query, convert, batch_size)


def _batches(
    session: Session, query: Select[Any], convert: Callable[[Row], Row], batch_size: int
) -> Iterator[list[Row]]:
    # On the session's connection, as Core: the ORM's row loading doubled the time of a topics export.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # A cursor is planned for its first tenth of rows by default (cursor_tuple_fraction 0.1): a plan
        # that starts fast and can be quadratic in all (a nested loop over freshly loaded, unanalysed
        # tables took 13 s for 20,000 rows, 70 ms planned whole). An export reads every row.
        connection.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    # yield_per implies stream_results: a named (server-side) cursor on psycopg, fetchmany elsewhere.
    result = connection.execute(query.execution_options(stream_results=True, yield_per=batch_size))
    try:
        for partition in result.partitions():
            yield [convert(row) for row in partition]
    finally:
        # An export stopped halfway releases its cursor at once; unless Ctrl-C came while the driver was
        # fetching, which SQLAlchemy answers by closing the connection, cursor and all.
        if not connection.invalidated:
            result.close()


def _json_text(column: Any) -> ColumnElement[str]:
    # The JSON as stored, as text: decoding it to encode it again took a third of an articles export.
    return cast(column, Text)


def _readable(stored: str | None) -> str | None:
    """Stored JSON with its escaped non-ASCII characters written out ("Zo\\u00eb" -> "Zoë"), for people
    reading a CSV; JSON without such escapes (most) is passed on as stored, and a JSON null is no value."""
    if stored is None or stored == "null":
        return None
    if "\\u" not in stored:
        return stored
    return json.dumps(json.loads(stored), ensure_ascii=False)
