"""What the query structures cost at load time: articles loaded through the store, with and without them.

    python -m benchmarks.load_cost [--articles 20000] [--rounds 3] [--no-postgres]

Loads N articles of 3,000 characters of real article text (../shared/corpus, else a fixed sentence) with a
few entities and topics each, through `store.load_pages` in batches of 50 as a run does, into a fresh
database at the current schema, twice per round, interleaved: as shipped, and with the structures that only
queries read dropped first — the full-text index (SQLite: the FTS5 table's triggers; PostgreSQL: the
generated tsvector column and its GIN index) and the covering indexes of migration 0007. The per-day counts
(load/rollups.py) are kept by the store's code, so they are in both. Prints the best of the rounds' wall
times and the database sizes.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from newsetl.flows.feedlist import feeds_from_urls
from newsetl.load import store
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.transform.records import EntityCount, ExtractedArticle, Listing, PageResult, Tagging, TopicHit
from newsetl.transform.urls import outlet_domain, url_key
from tests.conftest import CORPUS
from tests.databases import fresh_database

TEXT_CHARS = 3_000
BATCH = 50
QUERY_INDEXES = (
    "ix_articles_stored_day",
    "ix_articles_stored_id",
    "ix_article_topics_topic_tagger",
    "ix_article_entities_entity_tagger",
)
WITHOUT = {
    "sqlite": [
        "DROP TRIGGER articles_fts_insert",
        "DROP TRIGGER articles_fts_update",
        "DROP TRIGGER articles_fts_delete",
        *(f"DROP INDEX {name}" for name in QUERY_INDEXES),
    ],
    "postgresql": [
        "ALTER TABLE articles DROP COLUMN search_vector",
        *(f"DROP INDEX {name}" for name in QUERY_INDEXES),
    ],
}


def _corpus_text() -> str:
    truth = CORPUS / "articles" / "ground-truth.json"
    if not truth.exists():
        return "Mediators met in Cairo as talks on a truce resumed, officials said. " * 400
    text_ = "\n\n".join(item["articleBody"] for item in json.loads(truth.read_text()).values())
    return text_ + text_[:TEXT_CHARS]


def pages(feed_id: int, articles: int, corpus: str) -> list[PageResult]:
    tagging = Tagging(
        entities=(EntityCount("Gaza", "GPE", 2, 0), EntityCount("Hamas", "ORG", 1, 10)),
        topics=(TopicHit("ceasefire", 0.9, "A truce.", True), TopicHit("hostages", 0.4, "Freed.", False)),
        tagger="bench",
    )
    made = []
    for i in range(articles):
        start = (i * 7919) % (len(corpus) - TEXT_CHARS)
        url = f"https://outlet{i % 20}.example.org/news/{i}"
        article = ExtractedArticle(
            f"Story {i}",
            corpus[start : start + TEXT_CHARS],
            (),
            datetime(2026, 1, 1 + i % 28, tzinfo=UTC),
            "en",
            None,
        )
        made.append(
            PageResult(
                url_key(url),
                url,
                "ok",
                200,
                1,
                (Listing(feed_id, None),),
                url,
                datetime.now(UTC),
                article,
                tagging,
                outlet_domain=outlet_domain(url),
            )
        )
    return made


def load(engine: Engine, articles: int, corpus: str) -> float:
    with Session(engine) as session, session.begin():
        (feed,) = store.upsert_feeds(session, feeds_from_urls(["https://feeds.example.org/rss"]))
    todo = pages(feed.id, articles, corpus)
    began = time.perf_counter()
    for start in range(0, articles, BATCH):
        with Session(engine) as session, session.begin():
            store.load_pages(session, store.start_run(session, {}, None), todo[start : start + BATCH], "3")
    return time.perf_counter() - began


@contextmanager
def database(kind: str, with_structures: bool) -> Iterator[tuple[str, Engine]]:
    with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp)) as url:
        engine = make_engine(url)
        upgrade(engine)
        if not with_structures:
            with engine.begin() as db:
                for statement in WITHOUT[kind]:
                    db.execute(text(statement))
        try:
            yield url, engine
        finally:
            engine.dispose()


def size(kind: str, url: str, engine: Engine) -> int:
    if kind == "sqlite":
        path = url.removeprefix("sqlite:///")
        sqlite3.connect(path, isolation_level=None).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        return Path(path).stat().st_size
    with engine.connect() as db:
        return db.execute(text("SELECT pg_database_size(current_database())")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    corpus = _corpus_text()
    kinds = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    best: dict[tuple[str, bool], float] = {}
    sizes: dict[tuple[str, bool], int] = {}
    for _ in range(args.rounds):
        for kind in kinds:
            for with_structures in (False, True):  # interleaved: the machine's noise falls on both alike
                with database(kind, with_structures) as (url, engine):
                    seconds = load(engine, args.articles, corpus)
                    sizes[(kind, with_structures)] = size(kind, url, engine)
                key = (kind, with_structures)
                best[key] = min(best.get(key, seconds), seconds)
    print(
        f"{args.articles:,} articles of {TEXT_CHARS:,} characters, batches of {BATCH}, best of {args.rounds}"
    )
    print(f"{'database':<12}{'without s':>11}{'with s':>9}{'ms/article':>12}{'without MB':>12}{'with MB':>9}")
    for kind in kinds:
        without, with_ = best[(kind, False)], best[(kind, True)]
        extra = (with_ - without) / args.articles * 1000
        print(
            f"{kind:<12}{without:>11.1f}{with_:>9.1f}{extra:>+12.2f}"
            f"{sizes[(kind, False)] / 1e6:>12.0f}{sizes[(kind, True)] / 1e6:>9.0f}"
        )


if __name__ == "__main__":
    main()
