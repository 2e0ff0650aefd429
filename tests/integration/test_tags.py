"""Tags under their tagger version, aliases and lone-surname resolution, on real SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import Article, ArticleEntity, ArticleTagging, ArticleTopic, Entity, EntityAlias
from newsetl.load.tags import (
    MIN_ALIAS_ARTICLES,
    AliasOrigin,
    RetagScope,
    count_to_retag,
    prune_taggers,
    store_taggings,
    sync_aliases,
    tagger_versions,
)
from newsetl.transform.records import AliasEntry, EntityCount, Tagging, TopicHit
from tests.databases import data_counts

NETANYAHU_IN_FULL = EntityCount(
    "Benjamin Netanyahu", "PERSON", 3, 0, (("Benjamin Netanyahu", 1), ("Netanyahu", 2))
)
LONE_NETANYAHU = EntityCount("Netanyahu", "PERSON", 2, 5, (("Netanyahu", 2),))


def _articles(session: Session, count: int) -> list[int]:
    rows = [
        {
            "url_key": f"{n:064d}",
            "url": f"https://news.example/{n}",
            "outcome": "ok",
            "authors": [],
            "text": "t",
        }
        for n in range(count)
    ]
    session.execute(Article.__table__.insert(), rows)
    return list(session.scalars(select(Article.id).order_by(Article.id)))


def _entities_of(session: Session, article_id: int) -> dict[str, dict[str, int] | None]:
    query = (
        select(Entity.name, ArticleEntity.surfaces)
        .join(ArticleEntity, ArticleEntity.entity_id == Entity.id)
        .where(ArticleEntity.article_id == article_id)
    )
    return dict(tuple(row) for row in session.execute(query))


def test_a_lone_surname_resolves_to_the_one_full_name_enough_articles_spelled_out(session) -> None:
    ids = _articles(session, MIN_ALIAS_ARTICLES + 2)
    spelled, lone_early, lone_late = ids[:MIN_ALIAS_ARTICLES], ids[-2], ids[-1]
    store_taggings(session, [(spelled[0], Tagging(entities=(NETANYAHU_IN_FULL,), tagger="v1"))], "1")
    store_taggings(session, [(lone_early, Tagging(entities=(LONE_NETANYAHU,), tagger="v1"))], "1")
    assert _entities_of(session, lone_early) == {"Netanyahu": {"Netanyahu": 2}}  # one article is too few

    for article_id in spelled[1:]:
        store_taggings(session, [(article_id, Tagging(entities=(NETANYAHU_IN_FULL,), tagger="v1"))], "1")
    store_taggings(session, [(lone_late, Tagging(entities=(LONE_NETANYAHU,), tagger="v1"))], "1")

    # Resolved, with the surface form kept: the resolution can be undone.
    assert _entities_of(session, lone_late) == {"Benjamin Netanyahu": {"Netanyahu": 2}}
    aliases = session.execute(
        select(EntityAlias.alias, EntityAlias.origin, EntityAlias.articles)
        .join(Entity)
        .where(Entity.name == "Benjamin Netanyahu")
    ).all()
    assert aliases == [("Netanyahu", AliasOrigin.ARTICLE, MIN_ALIAS_ARTICLES)]  # guesses do not count


def test_a_lone_surname_two_full_names_share_stays_as_it_is(session) -> None:
    ids = _articles(session, 2 * MIN_ALIAS_ARTICLES + 1)
    sara = EntityCount("Sara Netanyahu", "PERSON", 2, 0, (("Sara Netanyahu", 1), ("Netanyahu", 1)))
    for n, article_id in enumerate(ids[:-1]):
        entity = NETANYAHU_IN_FULL if n % 2 else sara
        store_taggings(session, [(article_id, Tagging(entities=(entity,), tagger="v1"))], "1")
    store_taggings(session, [(ids[-1], Tagging(entities=(LONE_NETANYAHU,), tagger="v1"))], "1")
    assert _entities_of(session, ids[-1]) == {"Netanyahu": {"Netanyahu": 2}}


def test_two_versions_stand_side_by_side_and_storing_again_changes_nothing(session, database_url) -> None:
    (article_id,) = _articles(session, 1)
    old = Tagging(
        entities=(EntityCount("Gaza", "GPE", 2, 0, (("Gaza", 2),)),),
        topics=(TopicHit("ceasefire", 0.9, "A truce.", True), TopicHit("hostages", 0.3, "Captives.", False)),
        tagger="v1",
    )
    new = Tagging(entities=old.entities, topics=(TopicHit("ceasefire", 0.95, "A truce."),), tagger="v2")
    store_taggings(session, [(article_id, old)], "1")
    store_taggings(session, [(article_id, new)], "2")
    session.commit()
    before = data_counts(make_engine(database_url))
    counts = [
        store_taggings(session, [(article_id, old)], "1"),
        store_taggings(session, [(article_id, new)], "2"),
    ]
    session.commit()

    assert all(c.articles == c.entities == c.topics == 0 for c in counts)
    assert data_counts(make_engine(database_url)) == before
    rows = session.execute(
        select(ArticleTopic.tagger, ArticleTopic.passed).order_by(ArticleTopic.tagger)
    ).all()
    assert sorted(rows) == [("v1", False), ("v1", True), ("v2", True)]
    assert [(v.tagger, v.articles, v.topic_rows) for v in tagger_versions(session)] in (
        [("v2", 1, 1), ("v1", 1, 2)],
        [("v1", 1, 2), ("v2", 1, 1)],  # both tagged within the same clock tick
    )
    assert count_to_retag(session, RetagScope("v2")) == 0 and count_to_retag(session, RetagScope("v3")) == 1

    deleted = prune_taggers(session, "v2")
    assert deleted == {"article_entities": 1, "article_topics": 2, "article_taggings": 1}
    assert set(session.scalars(select(ArticleTagging.tagger))) == {"v2"}


def test_the_aliases_file_seeds_the_alias_table_once(session) -> None:
    entries = [
        AliasEntry("IDF", "Israel Defense Forces", "ORG"),
        AliasEntry("U.S.", "United States", "GPE"),
        AliasEntry("US", "United States", "GPE"),
    ]
    sync_aliases(session, entries)
    sync_aliases(session, entries)
    rows = session.execute(
        select(EntityAlias.alias, Entity.name, EntityAlias.origin).join(Entity).order_by(EntityAlias.alias)
    ).all()
    assert rows == [
        ("IDF", "Israel Defense Forces", "file"),
        ("U.S.", "United States", "file"),
        ("US", "United States", "file"),
    ]


def test_tags_of_a_database_made_before_tagger_versions_survive_the_migration(database_url) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO articles (url_key, url, authors, outcome, attempts, tagger, tag_truncated, "
                "text) VALUES ('k', 'https://news.example/k', '[]', 'ok', 1, 'old-tagger', :t, 'x')"
            ),
            {"t": True},
        )
        db.execute(text("INSERT INTO entities (name, label) VALUES ('Gaza', 'GPE')"))
        db.execute(
            text(
                "INSERT INTO article_entities (article_id, entity_id, count, first_offset, tagger) "
                "SELECT a.id, e.id, 2, 0, 'old-tagger' FROM articles a, entities e"
            )
        )
    upgrade(engine)
    with Session(engine) as session:
        assert session.execute(select(ArticleTagging.tagger, ArticleTagging.truncated)).all() == [
            ("old-tagger", True)
        ]
        assert session.execute(select(ArticleEntity.tagger, ArticleEntity.count)).all() == [("old-tagger", 2)]
    engine.dispose()
