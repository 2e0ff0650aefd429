"""Every query of `newsetl trends|entities|cooccur`, and every view, against a plain-Python computation over
the same rows: random small databases, on a real SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, text
from sqlalchemy.orm import Session

from newsetl.load import analysis, rollups
from newsetl.load.analysis import Filters
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
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
from tests.databases import fresh_database

OUTLETS = (("Alpha News", "alpha.org"), ("Beta", "beta.co.uk"), ("gamma.com", "gamma.com"))
TAGGERS = ("tagger-1", "tagger-2")
TOPICS = ("ceasefire", "hostages")
ENTITIES = (
    ("Benjamin Netanyahu", "PERSON"),
    ("Hamas", "ORG"),
    ("Gaza", "GPE"),
    ("Gaza", "ORG"),
    ("Qatar", "GPE"),
)
ALIAS = ("Netanyahu", 0)  # an alias of the first entity
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FakeArticle:
    outlet: int
    published: datetime | None
    first_seen: datetime
    ok: bool
    taggers: frozenset[str]
    topics: frozenset[tuple[str, str, bool]]  # (tagger, topic, passed)
    entities: dict[tuple[str, int], int] = field(hash=False)  # (tagger, entity index) -> count

    @property
    def day(self) -> date:
        return (self.published or self.first_seen).date()


def _moments() -> st.SearchStrategy[datetime]:
    # Within ten weeks; midnight itself often (a row at exactly 00:00:00 is where day bounds go wrong),
    # and with or without a fraction of a second.
    offsets = st.one_of(
        st.integers(0, 70).map(lambda d: timedelta(days=d)),
        st.integers(0, 70 * 86400 - 1).map(lambda s: timedelta(seconds=s)),
    )
    micro = st.sampled_from([0, 0, 1, 999999])
    return st.builds(lambda o, m: START + o + timedelta(microseconds=m), offsets, micro)


@st.composite
def _articles(draw: st.DrawFn) -> FakeArticle:
    ok = draw(st.sampled_from([True, True, True, False]))  # mostly stored articles; failed ones count nowhere
    # Only a stored article is ever tagged (the store tags the text it stores; an 'ok' row is never undone).
    taggers = draw(st.frozensets(st.sampled_from(TAGGERS))) if ok else frozenset()
    scored = draw(
        st.dictionaries(st.tuples(st.sampled_from(TAGGERS), st.sampled_from(TOPICS)), st.booleans())
    )
    topics = frozenset(
        (tagger, topic, passed) for (tagger, topic), passed in scored.items() if tagger in taggers
    )
    entity_keys = draw(st.frozensets(st.tuples(st.sampled_from(TAGGERS), st.integers(0, len(ENTITIES) - 1))))
    entities = {key: draw(st.integers(1, 4)) for key in sorted(entity_keys) if key[0] in taggers}
    return FakeArticle(
        outlet=draw(st.integers(0, len(OUTLETS) - 1)),
        published=draw(st.none() | _moments()),
        first_seen=draw(_moments()),
        ok=ok,
        taggers=taggers,
        topics=topics,
        entities=entities,
    )


@st.composite
def _filters(draw: st.DrawFn) -> Filters:
    since = draw(st.none() | st.integers(0, 70).map(lambda d: START.date() + timedelta(days=d)))
    until = draw(st.none() | st.integers(0, 70).map(lambda d: START.date() + timedelta(days=d)))
    outlets = draw(
        st.lists(st.sampled_from([*(n for n, _ in OUTLETS), *(d for _, d in OUTLETS)]), max_size=2)
    )
    return Filters(
        tagger=draw(st.sampled_from(TAGGERS)),
        since=since,
        until=until,
        sources=tuple(outlets),
        by=draw(st.sampled_from(analysis.PERIODS)),
    )


# --- the database --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database per kind for the module: each example empties and fills its data tables."""
    with fresh_database(request.param, tmp_path_factory.mktemp("analysis")) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def _fill(engine: Engine, articles: list[FakeArticle]) -> None:
    with Session(engine) as session, session.begin():
        for table in (
            OutletDayCount,
            TopicDayCount,
            ArticleTopic,
            ArticleEntity,
            ArticleTagging,
            EntityAlias,
            Article,
            Topic,
            Entity,
            Source,
        ):
            session.execute(delete(table))
        session.execute(
            insert(Source), [{"id": i + 1, "name": n, "domain": d} for i, (n, d) in enumerate(OUTLETS)]
        )
        session.execute(
            insert(Topic), [{"id": i + 1, "name": t, "taxonomy_version": "3"} for i, t in enumerate(TOPICS)]
        )
        session.execute(
            insert(Entity), [{"id": i + 1, "name": n, "label": lb} for i, (n, lb) in enumerate(ENTITIES)]
        )
        session.execute(
            insert(EntityAlias), [{"alias": ALIAS[0], "entity_id": ALIAS[1] + 1, "origin": "file"}]
        )
        for i, article in enumerate(articles, start=1):
            _insert_article(session, i, article)
        # The per-day counts the store keeps as it goes, computed from the rows (tests/integration/
        # test_rollups.py holds the kept ones to this).
        rollups.rebuild(session)


def _insert_article(session: Session, article_id: int, article: FakeArticle) -> None:
    session.execute(
        insert(Article),
        [
            {
                "id": article_id,
                "url_key": f"k{article_id}",
                "url": f"https://{OUTLETS[article.outlet][1]}/{article_id}",
                "outcome": "ok" if article.ok else "server_error",
                "authors": [],
                "published_at": article.published,
                "first_seen_at": article.first_seen,
                "day": article.day,  # as the store computes it (tests/integration/test_store.py)
                "source_id": article.outlet + 1,
            }
        ],
    )
    for tagger in sorted(article.taggers):
        session.execute(insert(ArticleTagging), [{"article_id": article_id, "tagger": tagger}])
    for tagger, topic, passed in sorted(article.topics):
        row = {"article_id": article_id, "topic_id": TOPICS.index(topic) + 1, "tagger": tagger, "score": 0.5}
        session.execute(insert(ArticleTopic), [{**row, "passed": passed}])
    for (tagger, entity), count in sorted(article.entities.items()):
        row = {"article_id": article_id, "entity_id": entity + 1, "tagger": tagger, "count": count}
        session.execute(insert(ArticleEntity), [{**row, "first_offset": 0}])


# --- the same questions in plain Python ----------------------------------------------------------------


def _period_start(day: date, by: str) -> str:
    if by == "week":
        day = day - timedelta(days=day.weekday())
    elif by == "month":
        day = day.replace(day=1)
    return day.isoformat()


def _counted(articles: list[FakeArticle], f: Filters, tagged: bool = True) -> list[FakeArticle]:
    """Stored articles in the range and outlets (and tagged by the version, unless not `tagged`)."""
    outlets = {i for i, (name, domain) in enumerate(OUTLETS) if name in f.sources or domain in f.sources}
    return [
        a
        for a in articles
        if a.ok
        and (f.tagger in a.taggers or not tagged)
        and (f.since is None or a.day >= f.since)
        and (f.until is None or a.day <= f.until)
        and (not f.sources or a.outlet in outlets)
    ]


def _trend(
    articles: list[FakeArticle], f: Filters, hit: Callable[[FakeArticle], bool]
) -> list[analysis.TrendRow]:
    """Every stored article of the outlets in the range counts in `outlet_articles`, tagged or not."""
    totals: Counter[tuple[str, str]] = Counter()
    hits: Counter[tuple[str, str]] = Counter()
    for a in _counted(articles, f, tagged=False):
        key = (_period_start(a.day, f.by), OUTLETS[a.outlet][0])
        totals[key] += 1
        hits[key] += bool(hit(a))
    return [
        analysis.TrendRow(p, o, hits[(p, o)], n, hits[(p, o)] / n) for (p, o), n in sorted(totals.items())
    ]


def _has_topic(topic: str, tagger: str) -> Callable[[FakeArticle], bool]:
    return lambda a: (tagger, topic, True) in a.topics


def _mentions(entities: set[int], tagger: str) -> Callable[[FakeArticle], bool]:
    return lambda a: any((tagger, e) in a.entities for e in entities)


def _top_entities(
    articles: list[FakeArticle], f: Filters, top: int, topic: str | None
) -> list[analysis.EntityRow]:
    chosen = [a for a in _counted(articles, f) if topic is None or _has_topic(topic, f.tagger)(a)]
    n_articles: Counter[int] = Counter()
    mentions: Counter[int] = Counter()
    for a in chosen:
        for (tagger, entity), count in a.entities.items():
            if tagger == f.tagger:
                n_articles[entity] += 1
                mentions[entity] += count
    rows = [analysis.EntityRow(*ENTITIES[e], n_articles[e], mentions[e]) for e in n_articles]
    rows.sort(key=lambda r: (-r.articles, -r.mentions, r.entity, r.label))
    return rows[:top]


def _cooccurring(
    articles: list[FakeArticle], f: Filters, entities: set[int], top: int
) -> list[analysis.CooccurrenceRow]:
    with_entity = [a for a in _counted(articles, f) if _mentions(entities, f.tagger)(a)]
    together: Counter[int] = Counter()
    for a in with_entity:
        for tagger, entity in a.entities:
            if tagger == f.tagger and entity not in entities:
                together[entity] += 1
    rows = [analysis.CooccurrenceRow(*ENTITIES[e], n, n / len(with_entity)) for e, n in together.items()]
    rows.sort(key=lambda r: (-r.articles, r.entity, r.label))
    return rows[:top]


def _entity_indexes(name: str) -> set[int]:
    return {i for i, (n, _) in enumerate(ENTITIES) if n == name} | ({ALIAS[1]} if name == ALIAS[0] else set())


# --- the properties ------------------------------------------------------------------------------------

# Each example refills a real database: fewer examples than the CI profile's 300 keep this under ~15 s
# per database, and the small shapes (three outlets, two taggers, ten weeks) make collisions common.
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ARTICLE_LISTS = st.lists(_articles(), max_size=14)


# An article of midnight sharp: counted on that day and not the one before (both ends of a range included).
MIDNIGHT = FakeArticle(0, None, START + timedelta(days=4), True, frozenset(TAGGERS), frozenset(), {})
ON_ITS_DAY = Filters("tagger-1", since=MIDNIGHT.day, until=MIDNIGHT.day)
THE_DAY_BEFORE = Filters(
    "tagger-1", since=MIDNIGHT.day - timedelta(days=1), until=MIDNIGHT.day - timedelta(days=1)
)


@EXAMPLES
@example(articles=[MIDNIGHT], f=ON_ITS_DAY, topic="ceasefire", name="Gaza")
@example(articles=[MIDNIGHT], f=THE_DAY_BEFORE, topic="ceasefire", name="Gaza")
@given(
    articles=ARTICLE_LISTS,
    f=_filters(),
    topic=st.sampled_from(TOPICS),
    name=st.sampled_from(["Gaza", "Netanyahu", "Qatar"]),
)
def test_trends_count_what_plain_python_counts(engine, articles, f, topic, name) -> None:
    _fill(engine, articles)
    with Session(engine) as session:
        assert analysis.topic_trend(session, topic, f) == _trend(articles, f, _has_topic(topic, f.tagger))
        expected = _trend(articles, f, _mentions(_entity_indexes(name), f.tagger))
        assert analysis.entity_trend(session, name, f) == expected


@EXAMPLES
@given(
    articles=ARTICLE_LISTS,
    f=_filters(),
    topic=st.none() | st.sampled_from(TOPICS),
    name=st.sampled_from(["Gaza", "Netanyahu", "Hamas"]),
    top=st.integers(1, 6),
)
def test_entities_and_cooccurrence_count_what_plain_python_counts(
    engine, articles, f, topic, name, top
) -> None:
    _fill(engine, articles)
    with Session(engine) as session:
        assert analysis.top_entities(session, f, top, topic) == _top_entities(articles, f, top, topic)
        expected = _cooccurring(articles, f, _entity_indexes(name), top)
        assert analysis.cooccurring(session, name, f, top) == expected


@EXAMPLES
@given(articles=ARTICLE_LISTS)
def test_the_views_hold_what_plain_python_counts(engine, articles) -> None:
    _fill(engine, articles)
    stored = [a for a in articles if a.ok]
    with engine.connect() as db:
        outlet_daily = db.execute(text("SELECT day, outlet, articles FROM outlet_daily")).all()
        tagged_daily = db.execute(text("SELECT day, tagger, outlet, articles FROM tagged_daily")).all()
        topic_daily = db.execute(
            text("SELECT day, tagger, topic, outlet, articles, outlet_articles, attention FROM topic_daily")
        ).all()
        entity_daily = db.execute(
            text("SELECT day, tagger, entity, label, articles, mentions FROM entity_daily")
        ).all()
        pairs = db.execute(
            text("SELECT tagger, article_id, entity, label, other, other_label FROM entity_pairs")
        ).all()
        latest = db.execute(text("SELECT tagger FROM latest_tagger")).all()

    per_outlet_day = Counter((a.day.isoformat(), OUTLETS[a.outlet][0]) for a in stored)
    assert sorted(outlet_daily) == sorted((d, o, n) for (d, o), n in per_outlet_day.items())
    per_version = Counter((a.day.isoformat(), t, OUTLETS[a.outlet][0]) for a in stored for t in a.taggers)
    assert sorted(tagged_daily) == sorted((d, t, o, n) for (d, t, o), n in per_version.items())
    assert sorted(r[:6] for r in topic_daily) == sorted(_topic_daily(stored))
    assert all(r.attention == pytest.approx(r.articles / r.outlet_articles) for r in topic_daily)
    assert sorted(entity_daily) == sorted(_entity_daily(stored))
    assert sorted(pairs) == sorted(_pairs(articles))
    assert len(latest) == (1 if any(a.taggers for a in articles) else 0)


def _topic_daily(stored: list[FakeArticle]) -> list[tuple[object, ...]]:
    totals: Counter[tuple[str, int]] = Counter((a.day.isoformat(), a.outlet) for a in stored)
    hits: Counter[tuple[str, str, str, int]] = Counter()
    for a in stored:
        for tagger, topic, passed in a.topics:
            hits[(a.day.isoformat(), tagger, topic, a.outlet)] += passed
    return [(d, t, topic, OUTLETS[o][0], n, totals[(d, o)]) for (d, t, topic, o), n in hits.items() if n]


def _entity_daily(stored: list[FakeArticle]) -> list[tuple[object, ...]]:
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for a in stored:
        for (tagger, entity), count in a.entities.items():
            counts[(a.day.isoformat(), tagger, entity)][0] += 1
            counts[(a.day.isoformat(), tagger, entity)][1] += count
    return [(d, t, *ENTITIES[e], n, m) for (d, t, e), (n, m) in counts.items()]


def _pairs(articles: list[FakeArticle]) -> list[tuple[object, ...]]:
    pairs = []
    for article_id, a in enumerate(articles, start=1):
        if not a.ok:
            continue
        for tagger in a.taggers:
            mentioned = sorted(e for t, e in a.entities if t == tagger)
            pairs += [
                (tagger, article_id, *ENTITIES[x], *ENTITIES[y])
                for x in mentioned
                for y in mentioned
                if x != y
            ]
    return pairs
