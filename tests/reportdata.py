"""A small tagged database for the report and its queries, by direct inserts: three outlets over a week of
March 2024 (Monday the 4th to Sunday the 10th), a topic that some articles have, entities, and the rows
every count must leave out (a failed fetch, another tagger version, a topic that did not pass).

Web text is hostile here on purpose: an article title, an evidence sentence, an outlet's name and an
entity's name carry `<script>`, `</script>` and `<!--`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from newsetl.load import rollups
from newsetl.load.migrate import prepare
from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTagging,
    ArticleTopic,
    Entity,
    Source,
    Topic,
)

TAGGER = "test-tagger-2"
OLD_TAGGER = "test-tagger-1"
SCRIPT_TITLE = "<script>alert(1)</script> Truce </script> talks"
SCRIPT_EVIDENCE = 'Mediators said "<!--" and </script> were no part of the truce.'
SCRIPT_OUTLET = 'Gamma </script><script>alert("outlet")</script>'
SCRIPT_ENTITY = "<!--</script>Evil"

OUTLETS = {1: ("Alpha News", "alpha.example"), 2: ("Beta Daily", "beta.example"), 3: (SCRIPT_OUTLET, None)}
TOPICS = {1: "ceasefire", 2: "hostages"}
ENTITIES = {
    1: ("Hamas", "ORG"),
    2: ("Benjamin Netanyahu", "PERSON"),
    3: (SCRIPT_ENTITY, "ORG"),
    4: ("Qatar", "GPE"),
    5: ("Hamas", "GPE"),  # the same name under another label: another entity
}

# id: outlet, published (None: first seen then), title, outcome, the version that tagged it
ARTICLES = {
    1: (1, "2024-03-04 10:00", "Ceasefire agreed", "ok", TAGGER),
    2: (1, "2024-03-04 15:00", "Hostage families wait", "ok", TAGGER),
    3: (1, "2024-03-05 09:00", "Ceasefire holds", "ok", TAGGER),
    4: (1, "2024-03-08 12:00", "Markets", "ok", TAGGER),
    5: (2, "2024-03-05 08:00", SCRIPT_TITLE, "ok", TAGGER),
    6: (2, None, "Aid convoys cross", "ok", TAGGER),  # first seen 2024-03-06 11:00
    7: (2, "2024-03-06 13:00", "Truce doubts", "ok", TAGGER),
    8: (3, "2024-03-07 07:00", "Guns fall silent", "ok", TAGGER),
    9: (1, "2024-03-07 09:00", None, "extract_empty", TAGGER),  # not stored: never counted
    10: (2, "2024-03-07 10:00", "Old version only", "ok", OLD_TAGGER),  # tagged by another version
}
FIRST_SEEN_OF_UNDATED = "2024-03-06 11:00"

# article: topic, score, passed, evidence, tagger
ARTICLE_TOPICS = [
    (1, 1, 0.8, True, "Both sides agreed to a ceasefire on Monday.", TAGGER),
    (2, 2, 0.7, True, "Families of the hostages waited.", TAGGER),
    (3, 1, 0.6, True, "The ceasefire held overnight.", TAGGER),
    (5, 1, 0.9, True, SCRIPT_EVIDENCE, TAGGER),
    (6, 1, 0.7, True, "Convoys crossed as the truce began.", TAGGER),
    (7, 1, 0.3, False, "Doubts about a truce.", TAGGER),  # did not pass
    (8, 1, 0.75, True, "The guns fell silent at dawn under the ceasefire.", TAGGER),
    (10, 1, 0.9, True, "An old version's ceasefire.", OLD_TAGGER),
]
# article: entity, count, tagger
ARTICLE_ENTITIES = [
    (1, 1, 3, TAGGER), (1, 2, 1, TAGGER), (3, 1, 2, TAGGER), (5, 1, 1, TAGGER), (5, 2, 2, TAGGER),
    (8, 1, 1, TAGGER), (6, 3, 1, TAGGER), (2, 4, 5, TAGGER), (7, 4, 5, TAGGER), (10, 4, 9, OLD_TAGGER),
    (8, 5, 1, TAGGER),
]  # fmt: skip

# What the queries must find with --since 2024-03-04 --until 2024-03-10.
SINCE, UNTIL = "2024-03-04", "2024-03-10"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build(engine: Engine) -> None:
    """The schema (as `newsetl db upgrade` makes it) and the rows above."""
    prepare(engine)
    with engine.begin() as db:
        db.execute(insert(Source), [{"id": i, "name": n, "domain": d} for i, (n, d) in OUTLETS.items()])
        db.execute(insert(Topic), [{"id": i, "name": n, "taxonomy_version": "3"} for i, n in TOPICS.items()])
        db.execute(insert(Entity), [{"id": i, "name": n, "label": la} for i, (n, la) in ENTITIES.items()])
        db.execute(insert(Article), [_article(i, *row) for i, row in ARTICLES.items()])
        db.execute(
            insert(ArticleTagging),
            [
                {"article_id": i, "tagger": row[4], "tagged_at": _at("2024-03-11 00:00")}
                for i, row in ARTICLES.items()
            ],
        )
        db.execute(
            insert(ArticleTopic),
            [
                {"article_id": a, "topic_id": t, "score": s, "passed": p, "evidence": e, "tagger": tg}
                for a, t, s, p, e, tg in ARTICLE_TOPICS
            ],
        )
        db.execute(
            insert(ArticleEntity),
            [
                {"article_id": a, "entity_id": e, "count": n, "first_offset": 0, "surfaces": {}, "tagger": tg}
                for a, e, n, tg in ARTICLE_ENTITIES
            ],
        )
        rollups.rebuild(db)  # the per-day counts the store keeps as it loads


def _article(
    article_id: int, source_id: int, published: str | None, title: str | None, outcome: str, _tagger: str
) -> dict[str, object]:
    return {
        "id": article_id,
        "url_key": f"key-{article_id}",
        "url": f"https://news.example/{article_id}?a=1&b=<2>",
        "title": title,
        "published_at": _at(published) if published else None,
        "first_seen_at": _at(published or FIRST_SEEN_OF_UNDATED),
        "day": _at(published or FIRST_SEEN_OF_UNDATED).date(),  # as the store sets it
        "outcome": outcome,
        "text": "text" if outcome == "ok" else None,
        "source_id": source_id,
    }
