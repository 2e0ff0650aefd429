"""Storing what the tagger found, under its version: entities (resolved to canonical names, with their
aliases), topics (passed or not), and the mark that an article was tagged by that version at all.

Ingest and `retag` both store through `store_taggings`. Every row's key holds the tagger version, so
tags of two versions stand side by side and a series is always counted under one; storing the same
article under the same version twice changes nothing (retag is idempotent and resumes after a kill).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from newsetl.load import rollups
from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTagging,
    ArticleTopic,
    Entity,
    EntityAlias,
    Topic,
)
from newsetl.load.rows import (
    as_stored,
    chunks,
    dialect_insert,
    insert_ignoring_duplicates,
    insert_new,
    upsert_named,
)
from newsetl.transform.records import AliasEntry, EntityCount, Outcome, Tagging

PERSON = "PERSON"
# A lone surname (or given name) an article never spells out resolves across the database only to a full
# name that at least this many articles spelled beside it: one article's "Smith" -> "Anna Smith" is too
# little to rename every later Smith.
MIN_ALIAS_ARTICLES = 3


class AliasOrigin:
    FILE = "file"  # the aliases file
    ARTICLE = "article"  # an article used the full name and the short form
    DATABASE = "database"  # a lone short form matched the one well-attested full name


@dataclass(frozen=True, slots=True)
class TagCounts:
    articles: int = 0  # articles newly marked as tagged by their version
    entities: int = 0  # article-entity rows written
    topics: int = 0  # article-topic rows written (passed or not)


def store_taggings(
    session: Session, tagged: Sequence[tuple[int, Tagging]], taxonomy_version: str
) -> TagCounts:
    """Store each (article id, Tagging); rows already there for the same version are left alone."""
    if not tagged:
        return TagCounts()
    resolved = _resolve_lone_names(session, tagged)
    marks = [
        {"article_id": aid, "tagger": tagging.tagger, "truncated": tagging.truncated}
        for aid, tagging in tagged
    ]
    return TagCounts(
        articles=insert_ignoring_duplicates(session, ArticleTagging, marks, ["article_id", "tagger"]),
        entities=_store_entities(session, resolved),
        topics=_store_topics(session, tagged, taxonomy_version),
    )


def sync_aliases(session: Session, entries: Sequence[AliasEntry]) -> None:
    """The aliases file's entries into the alias table (its canonical entities created as needed)."""
    ids = upsert_named(session, Entity.__table__, ("name", "label"), {(e.name, e.label) for e in entries})
    rows = [
        {"alias": e.alias, "entity_id": ids[(e.name, e.label)], "origin": AliasOrigin.FILE, "articles": 0}
        for e in entries
    ]
    insert_ignoring_duplicates(session, EntityAlias, rows, ["alias", "entity_id"])


# --- entities --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mention:
    article_id: int
    tagger: str
    entity: EntityCount
    by_database: bool  # its name came from the database, not from the article


def _resolve_lone_names(session: Session, tagged: Sequence[tuple[int, Tagging]]) -> list[_Mention]:
    mentions = [
        _Mention(aid, tagging.tagger, entity, False) for aid, tagging in tagged for entity in tagging.entities
    ]
    lone = sorted({m.entity.text for m in mentions if _is_lone_name(m.entity)})
    full_names = _well_attested_full_names(session, lone)
    return [
        replace(m, entity=replace(m.entity, text=full_names[m.entity.text]), by_database=True)
        if _is_lone_name(m.entity) and m.entity.text in full_names
        else m
        for m in mentions
    ]


def _is_lone_name(entity: EntityCount) -> bool:
    return entity.label == PERSON and " " not in entity.text


def _well_attested_full_names(session: Session, names: Sequence[str]) -> dict[str, str]:
    """Lone name -> the one PERSON entity that MIN_ALIAS_ARTICLES articles spelled out beside it; a
    name with two such full names (two Smiths) is ambiguous and stays as it is."""
    candidates: dict[str, set[str]] = {}
    for chunk in chunks(list(names)):
        query = (
            select(EntityAlias.alias, Entity.name)
            .join(Entity, Entity.id == EntityAlias.entity_id)
            .where(
                EntityAlias.alias.in_(chunk),
                EntityAlias.origin == AliasOrigin.ARTICLE,
                EntityAlias.articles >= MIN_ALIAS_ARTICLES,
                Entity.label == PERSON,
                Entity.name != EntityAlias.alias,
            )
        )
        for alias, name in session.execute(query):
            candidates.setdefault(alias, set()).add(name)
    return {alias: next(iter(found)) for alias, found in candidates.items() if len(found) == 1}


def _store_entities(session: Session, mentions: Sequence[_Mention]) -> int:
    if not mentions:
        return 0
    ids = upsert_named(
        session, Entity.__table__, ("name", "label"), {(m.entity.text, m.entity.label) for m in mentions}
    )
    rows = [
        {
            "article_id": m.article_id,
            "entity_id": ids[(m.entity.text, m.entity.label)],
            "tagger": m.tagger,
            "count": m.entity.count,
            "first_offset": m.entity.first_offset,
            "surfaces": dict(m.entity.surfaces) or {m.entity.text: m.entity.count},
        }
        for m in mentions
    ]
    written = insert_ignoring_duplicates(session, ArticleEntity, rows, ["article_id", "entity_id", "tagger"])
    _count_aliases(session, mentions, ids)
    return written


def _count_aliases(session: Session, mentions: Sequence[_Mention], ids: dict[tuple[str, str], int]) -> None:
    """Each surface form that resolved to another name becomes (or counts once more as) its alias."""
    articles: Counter[tuple[str, int]] = Counter()  # (alias, entity id) -> articles that spelled both
    origins: dict[tuple[str, int], str] = {}
    for m in mentions:
        entity_id = ids[(m.entity.text, m.entity.label)]
        name = as_stored(Entity.name, m.entity.text)
        for surface, _ in m.entity.surfaces:
            key = (as_stored(EntityAlias.alias, surface), entity_id)
            if key[0] != name:
                origins[key] = AliasOrigin.DATABASE if m.by_database else AliasOrigin.ARTICLE
                articles[key] += 0 if m.by_database else 1  # the database's guesses must not feed themselves
    if not origins:
        return
    stmt = dialect_insert(session, EntityAlias)
    stmt = stmt.on_conflict_do_update(
        index_elements=["alias", "entity_id"],
        set_={"articles": EntityAlias.articles + stmt.excluded.articles},  # the first origin stays
    )
    rows = [
        {
            "alias": alias,
            "entity_id": entity_id,
            "origin": origins[(alias, entity_id)],
            "articles": articles[(alias, entity_id)],
        }
        for alias, entity_id in sorted(origins)
    ]
    session.execute(stmt, rows)


# --- topics ----------------------------------------------------------------------------------------------


def _store_topics(session: Session, tagged: Sequence[tuple[int, Tagging]], version: str) -> int:
    hits = [(aid, tagging.tagger, hit) for aid, tagging in tagged for hit in tagging.topics]
    if not hits:
        return 0
    ids = upsert_named(
        session, Topic.__table__, ("name", "taxonomy_version"), {(h.topic, version) for *_, h in hits}
    )
    rows = [
        {
            "article_id": aid,
            "topic_id": ids[(hit.topic, version)],
            "tagger": tagger,
            "score": hit.score,
            "evidence": hit.evidence,
            "passed": hit.passed,
        }
        for aid, tagger, hit in hits
    ]
    inserted = set(insert_new(session, ArticleTopic, rows, ["article_id", "topic_id", "tagger"]))
    passed = [(r["article_id"], r["topic_id"], r["tagger"]) for r in rows if r["passed"]]
    rollups.count_new_topics(session, [key for key in passed if key in inserted])
    return len(inserted)


# --- retagging -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetagScope:
    """Which stored articles a retag covers: those with text that `tagger` has not tagged yet, published
    (or, undated, first seen) since `since`, and with `topic` among their tags of any version."""

    tagger: str
    since: datetime | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class StoredText:
    article_id: int
    title: str | None
    text: str


def _in_scope(scope: RetagScope) -> list[ColumnElement[bool]]:
    done = select(ArticleTagging.article_id).where(
        ArticleTagging.article_id == Article.id, ArticleTagging.tagger == scope.tagger
    )
    conditions = [Article.outcome == Outcome.OK, Article.text.is_not(None), ~done.exists()]
    if scope.since is not None:
        conditions.append(Article.day >= scope.since.date())  # the day every query counts it on
    if scope.topic is not None:
        tagged_with = (
            select(ArticleTopic.article_id)
            .join(Topic, Topic.id == ArticleTopic.topic_id)
            .where(ArticleTopic.article_id == Article.id, Topic.name == scope.topic)
        )
        conditions.append(tagged_with.exists())
    return conditions


def count_to_retag(session: Session, scope: RetagScope) -> int:
    return session.scalar(select(func.count()).select_from(Article).where(*_in_scope(scope))) or 0


def texts_to_retag(session: Session, scope: RetagScope, after_id: int, limit: int) -> list[StoredText]:
    """The next `limit` articles in scope by id after `after_id`: a retag walks the table once, in order,
    so that a kill loses at most the batch in hand and a text the tagger cannot finish is not retried
    forever within one run."""
    query = (
        select(Article.id, Article.title, Article.text)
        .where(Article.id > after_id, *_in_scope(scope))
        .order_by(Article.id)
        .limit(limit)
    )
    return [StoredText(article_id, title, text) for article_id, title, text in session.execute(query)]


@dataclass(frozen=True, slots=True)
class TaggerRows:
    tagger: str
    articles: int
    entity_rows: int
    topic_rows: int
    last_tagged_at: datetime | None


def tagger_versions(session: Session) -> list[TaggerRows]:
    """Every tagger version with tags in the database, most recently used first."""
    marks = session.execute(
        select(ArticleTagging.tagger, func.count(), func.max(ArticleTagging.tagged_at)).group_by(
            ArticleTagging.tagger
        )
    ).all()
    entity_rows = _rows_per_tagger(session, ArticleEntity)
    topic_rows = _rows_per_tagger(session, ArticleTopic)
    versions = {tagger for tagger, *_ in marks} | set(entity_rows) | set(topic_rows)
    found = {tagger: (count, last) for tagger, count, last in marks}
    rows = [
        TaggerRows(
            tagger,
            found.get(tagger, (0, None))[0],
            entity_rows.get(tagger, 0),
            topic_rows.get(tagger, 0),
            found.get(tagger, (0, None))[1],
        )
        for tagger in versions
    ]
    return sorted(rows, key=lambda row: (row.last_tagged_at is not None, row.last_tagged_at), reverse=True)


def _rows_per_tagger(session: Session, model: Any) -> dict[str, int]:
    query = select(model.tagger, func.count()).group_by(model.tagger)
    return {tagger: count for tagger, count in session.execute(query)}


def has_tagged(session: Session, tagger: str) -> bool:
    """Whether `tagger` tagged any article (one index probe; tagger_versions counts every row)."""
    query = select(ArticleTagging.article_id).where(ArticleTagging.tagger == tagger).limit(1)
    return session.scalar(query) is not None


def prune_taggers(session: Session, keep: str) -> dict[str, int]:
    """Delete every tag not made by `keep`; returns rows deleted per table. Entities and topics that no
    tag names any more are kept: aliases point at them, and a later version may name them again."""
    deleted = {}
    for model in (ArticleEntity, ArticleTopic, ArticleTagging):
        result = session.execute(delete(model).where(model.tagger != keep))
        deleted[model.__tablename__] = result.rowcount or 0
    rollups.forget_taggers(session, keep)
    return deleted


def find_stored_text(session: Session, article_id: int | None, url_key: str | None) -> StoredText | None:
    """An article with text, by id or by the url_key of its URL (as listed, final or canonical)."""
    if article_id is not None:
        condition = Article.id == article_id
    elif url_key is not None:
        condition = Article.url_key == url_key
    else:
        return None
    row = session.execute(
        select(Article.id, Article.title, Article.text).where(condition, Article.text.is_not(None))
    ).first()
    return StoredText(row[0], row[1], row[2]) if row else None


def stored_topics(session: Session, article_id: int) -> list[tuple[str, str, float, bool]]:
    """(tagger, topic, score, passed) of every version's topic rows for the article."""
    query = (
        select(ArticleTopic.tagger, Topic.name, ArticleTopic.score, ArticleTopic.passed)
        .join(Topic, Topic.id == ArticleTopic.topic_id)
        .where(ArticleTopic.article_id == article_id)
        .order_by(ArticleTopic.tagger, Topic.name)
    )
    return [(tagger, name, score, passed) for tagger, name, score, passed in session.execute(query)]
