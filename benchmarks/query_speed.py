"""Query speed on a large database: a generated million articles over two years from 300 outlets.

    python -m benchmarks.query_speed [--articles 1000000] [--sqlite PATH] [--postgres URL] [--rounds 5]

Builds each database once (kept at --sqlite, default /tmp/newsetl-bench/query.db, and in the PostgreSQL
database named by --postgres, default newsetl_bench on 127.0.0.1; --rebuild starts again), then times the
questions of `newsetl trends|entities|cooccur` through the same functions the commands call, interleaved
across the databases, best of --rounds, and prints a table with the targets and the database sizes.

The data are shaped like a world-news feed: outlet volumes, entity mentions and topics all follow Zipf
laws (a few outlets publish most articles, a few entities are in most of them, ceasefire is common and
elections rare); 5 % of articles have no publication date; texts are drawn from the words of the real
article corpus when ../shared is there (else from a fixed word list), with topic phrases in topic articles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from newsetl.load import analysis, rollups
from newsetl.load.analysis import Filters
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.search import search

REPO = Path(__file__).resolve().parents[1]
CORPUS_TEXTS = REPO.parent / "shared" / "corpus" / "articles" / "ground-truth.json"
DEFAULT_SQLITE = Path("/tmp/newsetl-bench/query.db")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/newsetl_bench"
TAGGER = "bench-tagger"
OUTLETS = 300
ENTITIES = 50_000
FIRST_DAY = date(2024, 1, 1)
DAYS = 731  # two years
WORDS_PER_TEXT = 300
SEED = 20261206
# Topic name -> share of articles with it (Zipf over the ten topics, ceasefire most common).
TOPICS = {
    name: 0.2 / rank
    for rank, name in enumerate(
        [
            "ceasefire",
            "military_operations",
            "casualties",
            "hostages",
            "humanitarian_aid",
            "negotiations",
            "displacement",
            "protests",
            "sanctions",
            "elections",
        ],
        start=1,
    )
}
PHRASES = {
    "ceasefire": "ceasefire talks resumed",
    "hostages": "hostage release deal",
    "humanitarian_aid": "humanitarian corridor opened for aid trucks",
    "negotiations": "negotiators met in Cairo",
}
LABELS = ("PERSON", "ORG", "GPE", "NORP")
CHUNK = 20_000


# --- generating --------------------------------------------------------------------------------------


@dataclass
class Generator:
    articles: int
    rng: np.random.Generator
    vocabulary: np.ndarray
    word_weights: np.ndarray

    @classmethod
    def make(cls, articles: int) -> Generator:
        words = _vocabulary()
        ranks = np.arange(1, len(words) + 1)
        return cls(articles, np.random.default_rng(SEED), np.array(words, dtype=object), _zipf(ranks, 1.0))

    def outlets(self) -> list[dict[str, Any]]:
        return [
            {"id": i, "name": f"Outlet {i:03d}", "domain": f"outlet{i:03d}.com"}
            for i in range(1, OUTLETS + 1)
        ]

    def entities(self) -> list[dict[str, Any]]:
        return [
            {"id": i, "name": f"Entity {i:05d}", "label": LABELS[i % len(LABELS)]}
            for i in range(1, ENTITIES + 1)
        ]

    def topics(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": name, "taxonomy_version": "3"} for i, name in enumerate(TOPICS, start=1)]

    def chunks(self) -> Iterator[tuple[list[tuple], list[tuple], list[tuple], list[tuple]]]:
        """(articles, taggings, topic rows, entity rows) per chunk of articles, as tuples in column order."""
        outlet_weights = _zipf(np.arange(1, OUTLETS + 1), 1.0)
        entity_weights = _zipf(np.arange(1, ENTITIES + 1), 1.1)
        for start in range(1, self.articles + 1, CHUNK):
            ids = range(start, min(start + CHUNK, self.articles + 1))
            n = len(ids)
            outlets = self.rng.choice(OUTLETS, size=n, p=outlet_weights) + 1
            seconds = self.rng.integers(0, DAYS * 86400, size=n)
            undated = self.rng.random(n) < 0.05
            topic_draws = self.rng.random((n, len(TOPICS)))
            counts = self.rng.integers(5, 12, size=n)
            mentioned = self.rng.choice(ENTITIES, size=(n, 11), p=entity_weights) + 1
            articles, taggings, topic_rows, entity_rows = [], [], [], []
            for k, article_id in enumerate(ids):
                moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=int(seconds[k]))
                topics = [t for t, (name, share) in enumerate(TOPICS.items()) if topic_draws[k, t] < share]
                body = self._text([list(TOPICS)[t] for t in topics])
                articles.append(_article_row(article_id, int(outlets[k]), moment, bool(undated[k]), body))
                taggings.append((article_id, TAGGER, moment))
                for t in topics:
                    passed = bool(topic_draws[k, t] < list(TOPICS.values())[t] * 0.85)
                    topic_rows.append((article_id, t + 1, TAGGER, 0.9 if passed else 0.4, "evidence", passed))
                for entity in dict.fromkeys(mentioned[k, : counts[k]].tolist()):
                    entity_rows.append((article_id, entity, TAGGER, int(1 + entity % 4), 0))
            yield articles, taggings, topic_rows, entity_rows

    def _text(self, topics: list[str]) -> str:
        words = self.vocabulary[
            self.rng.choice(len(self.vocabulary), size=WORDS_PER_TEXT, p=self.word_weights)
        ]
        text = " ".join(words.tolist())
        phrases = [PHRASES[t] for t in topics if t in PHRASES]
        return " ".join([*phrases, text])


def _article_row(article_id: int, outlet: int, moment: datetime, undated: bool, body: str) -> tuple:
    title = " ".join(body.split()[:8])
    published = None if undated else moment
    return (
        article_id,
        f"k{article_id}",
        f"https://outlet{outlet:03d}.com/{article_id}",
        title,
        "[]",
        published,
        moment,
        moment.date(),
        "en",
        body,
        "ok",
        1,
        outlet,
    )


ARTICLE_COLUMNS = (
    "id, url_key, url, title, authors, published_at, first_seen_at, day, language, text, outcome, attempts, "
    "source_id"
)

TAGGING_COLUMNS = "article_id, tagger, tagged_at"
TOPIC_COLUMNS = "article_id, topic_id, tagger, score, evidence, passed"
ENTITY_COLUMNS = "article_id, entity_id, tagger, count, first_offset"


def _zipf(ranks: np.ndarray, exponent: float) -> np.ndarray:
    weights = 1.0 / ranks**exponent
    return weights / weights.sum()


def _vocabulary() -> list[str]:
    if CORPUS_TEXTS.exists():
        texts = json.loads(CORPUS_TEXTS.read_text())
        words: dict[str, int] = {}
        for item in texts.values():
            for word in re.findall(r"[A-Za-z][a-z]+", item["articleBody"]):
                words[word.lower()] = words.get(word.lower(), 0) + 1
        return sorted(words, key=lambda w: -words[w])
    random.seed(SEED)
    return [
        "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=random.randint(2, 10))) for _ in range(20000)
    ]


# --- loading -----------------------------------------------------------------------------------------


def build_sqlite(path: Path, articles: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(f"sqlite:///{path}"))
    generator = Generator.make(articles)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    _sqlite_fixed_rows(db, generator)
    for number, (rows, taggings, topic_rows, entity_rows) in enumerate(generator.chunks(), start=1):
        db.executemany(
            f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({_marks(13)})", [_sqlite(r) for r in rows]
        )
        db.executemany(
            f"INSERT INTO article_taggings ({TAGGING_COLUMNS}) VALUES ({_marks(3)})",
            [_sqlite(t) for t in taggings],
        )
        db.executemany(f"INSERT INTO article_topics ({TOPIC_COLUMNS}) VALUES ({_marks(6)})", topic_rows)
        db.executemany(f"INSERT INTO article_entities ({ENTITY_COLUMNS}) VALUES ({_marks(5)})", entity_rows)
        db.commit()
        _progress("sqlite", number * CHUNK, articles)
    db.close()
    _count_per_day(make_engine(f"sqlite:///{path}"))
    db = sqlite3.connect(path)
    db.execute("ANALYZE")
    db.close()


def _sqlite_fixed_rows(db: sqlite3.Connection, generator: Generator) -> None:
    db.executemany("INSERT INTO sources (id, name, domain) VALUES (:id, :name, :domain)", generator.outlets())
    db.executemany("INSERT INTO entities (id, name, label) VALUES (:id, :name, :label)", generator.entities())
    db.executemany(
        "INSERT INTO topics (id, name, taxonomy_version) VALUES (:id, :name, :taxonomy_version)",
        generator.topics(),
    )
    db.commit()


def _sqlite(row: tuple) -> tuple:
    """Datetimes as the application stores them on SQLite: naive UTC text with microseconds."""
    return tuple(
        v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(v, datetime)
        else v.isoformat()
        if isinstance(v, date)
        else v
        for v in row
    )


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def build_postgres(url: str, articles: int) -> None:
    _create_database(url)
    engine = make_engine(url)
    upgrade(engine)
    generator = Generator.make(articles)
    with engine.raw_connection().driver_connection as db:  # psycopg: COPY is the fast way in
        with db.cursor() as cursor:
            _copy(cursor, "sources (id, name, domain)", [tuple(r.values()) for r in generator.outlets()])
            _copy(cursor, "entities (id, name, label)", [tuple(r.values()) for r in generator.entities()])
            _copy(
                cursor, "topics (id, name, taxonomy_version)", [tuple(r.values()) for r in generator.topics()]
            )
            for number, (rows, taggings, topic_rows, entity_rows) in enumerate(generator.chunks(), start=1):
                _copy(cursor, f"articles ({ARTICLE_COLUMNS})", rows)
                _copy(cursor, "article_taggings (article_id, tagger, tagged_at)", taggings)
                _copy(
                    cursor,
                    "article_topics (article_id, topic_id, tagger, score, evidence, passed)",
                    topic_rows,
                )
                _copy(
                    cursor,
                    "article_entities (article_id, entity_id, tagger, count, first_offset)",
                    entity_rows,
                )
                db.commit()
                _progress("postgresql", number * CHUNK, articles)
            for table in ("sources", "entities", "topics", "articles"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        db.commit()
    _count_per_day(engine)
    with engine.raw_connection().driver_connection as db:
        db.autocommit = True
        db.execute("VACUUM ANALYZE")


def _count_per_day(engine: Engine) -> None:
    """The per-day counts the store keeps as it loads (load/rollups.py), for rows loaded around it."""
    with Session(engine) as session, session.begin():
        rollups.rebuild(session)


def _copy(cursor: Any, target: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _create_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _progress(kind: str, done: int, total: int) -> None:
    print(f"\r{kind}: {min(done, total):,} / {total:,} articles", end="", flush=True)
    if done >= total:
        print()


# --- timing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    target_seconds: float
    run: Callable[[Session], Any]


def cases() -> list[Case]:
    year = Filters(TAGGER, since=date(2025, 1, 1), until=date(2025, 12, 31), by="week")
    everything = Filters(TAGGER)
    month = Filters(TAGGER, since=date(2025, 6, 1), until=date(2025, 6, 30))
    return [
        Case("weekly trend, one topic, a year", 0.3, lambda s: analysis.topic_trend(s, "ceasefire", year)),
        Case(
            "weekly trend, one entity, a year", 0.3, lambda s: analysis.entity_trend(s, "Entity 00010", year)
        ),
        Case(
            "top-20 co-occurrence, one entity",
            1.0,
            lambda s: analysis.cooccurring(s, "Entity 00010", everything, 20),
        ),
        Case(
            "top-20 entities of a topic, a month",
            1.0,
            lambda s: analysis.top_entities(s, month, 20, "hostages"),
        ),
        Case(
            "top-20 co-occurrence, a mid entity",
            1.0,
            lambda s: analysis.cooccurring(s, "Entity 00100", everything, 20),
        ),
        # The phrase is in every humanitarian-aid article (4 %), the word in every ceasefire one (20 %):
        # ranking reads each match, so the share of articles that match is what a search costs.
        Case(
            "full-text search, a phrase in 4 %",
            0.5,
            lambda s: search(s, '"humanitarian corridor"', everything, 20),
        ),
        Case("full-text search, a word in 20 %", 0.5, lambda s: search(s, "ceasefire", everything, 20)),
    ]


def time_cases(engines: dict[str, Engine], rounds: int) -> dict[tuple[str, str], float]:
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for case in cases():
            for kind, engine in engines.items():  # interleaved: the machine's noise falls on both alike
                with Session(engine) as session:
                    began = time.perf_counter()
                    case.run(session)
                    seconds = time.perf_counter() - began
                key = (case.name, kind)
                best[key] = min(best.get(key, seconds), seconds)
    return best


def sizes(engines: dict[str, Engine], sqlite_path: Path) -> dict[str, int]:
    found = {}
    for kind, engine in engines.items():
        if kind == "sqlite":
            found[kind] = sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
        else:
            with engine.connect() as db:
                found[kind] = db.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    return found


def report(best: dict[tuple[str, str], float], kinds: list[str], size: dict[str, int], articles: int) -> None:
    header = f"{'query':<40}" + "".join(f"{kind + ' s':>14}" for kind in kinds) + f"{'target s':>10}  met"
    print(header)
    for case in cases():
        times = [best[(case.name, kind)] for kind in kinds]
        met = "yes" if all(t < case.target_seconds for t in times) else "NO"
        print(
            f"{case.name:<40}"
            + "".join(f"{t:>14.3f}" for t in times)
            + f"{case.target_seconds:>10.2f}  {met}"
        )
    per_million = {kind: size[kind] / articles * 1_000_000 / 1e9 for kind in kinds}
    print(
        f"{'database size per million articles (GB)':<40}"
        + "".join(f"{per_million[k]:>14.2f}" for k in kinds)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--sqlite", type=Path, default=DEFAULT_SQLITE)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="generate the databases again")
    args = parser.parse_args()
    engines = {"sqlite": make_engine(f"sqlite:///{args.sqlite}")}
    if args.rebuild or not _has_articles(engines["sqlite"], args.articles):
        for leftover in args.sqlite.parent.glob(args.sqlite.name + "*"):
            leftover.unlink()
        _timed("generating SQLite", lambda: build_sqlite(args.sqlite, args.articles))
    if not args.no_postgres:
        engines["postgresql"] = make_engine(args.postgres)
        if args.rebuild or not _has_articles(engines["postgresql"], args.articles):
            _timed("generating PostgreSQL", lambda: build_postgres(args.postgres, args.articles))
    best = time_cases(engines, args.rounds)
    report(best, list(engines), sizes(engines, args.sqlite), args.articles)


def _has_articles(engine: Engine, articles: int) -> bool:
    try:
        with engine.connect() as db:
            return db.execute(text("SELECT count(*) FROM articles")).scalar_one() == articles
    except OperationalError:
        return False
    finally:
        engine.dispose()


def _timed(what: str, work: Callable[[], None]) -> None:
    began = time.perf_counter()
    work()
    print(f"{what}: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
