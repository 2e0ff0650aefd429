"""Full-text search (`newsetl search`) on a real SQLite and PostgreSQL: the query language, ranking, snippets,
the filters every query command shares, hostile input, and the index kept in step with the articles."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from newsetl.flows.feedlist import feeds_from_urls
from newsetl.load import store
from newsetl.load.analysis import Filters, UnknownName
from newsetl.load.db import make_engine
from newsetl.load.migrate import MIGRATIONS, upgrade
from newsetl.load.search import MAX_WORDS, UnsearchableQuery, search
from newsetl.transform.records import ExtractedArticle, Listing, Outcome, PageResult, Tagging
from newsetl.transform.urls import outlet_domain, url_key
from tests.databases import fresh_database

V1 = Filters(tagger="v1")


@dataclass(frozen=True)
class Story:
    url: str
    title: str
    text: str
    day: int  # of January 2026
    tagger: str = "v1"


STORIES = {
    "A": Story(
        "https://a.org/corridor",
        "Humanitarian corridor opens for Gaza convoys",
        "Trucks crossed at dawn, officials said. They carried flour and medicine to the north.",
        10,
    ),
    "B": Story(
        "https://b.org/talks",
        "Talks resume in Cairo",
        "Mediators discussed a humanitarian corridor and the release of hostages.\n\nThe talks go on.",
        12,
    ),
    "C": Story(
        "https://a.org/plural",
        "Convoys wait at the border",
        "Two humanitarian corridors were agreed on Monday, and the convoys are waiting to cross.",
        15,
    ),
    "D": Story(
        "https://b.org/apart",
        "Winter storm",
        "The humanitarian situation worsened as snow blocked the road to the corridor.",
        20,
    ),
    "E": Story("https://c.org/football", "Football results", "The match ended in a draw at last.", 11),
    "F": Story("https://c.org/old", "Humanitarian corridor closed", "An older report on it.", 5, "v0"),
}
EVERY_CORRIDOR = {"A", "B", "C", "D"}


def _page(url: str, feed_id: int, story: Story | None = None) -> PageResult:
    article = story and ExtractedArticle(
        title=story.title,
        text=story.text,
        authors=(),
        published_at=datetime(2026, 1, story.day, 12, tzinfo=UTC),
        language="en",
        canonical_url=None,
    )
    return PageResult(
        url_key=url_key(url),
        url=url,
        outcome=Outcome.OK if story else Outcome.SERVER_ERROR,
        http_status=200 if story else 503,
        duration_ms=1,
        listings=(Listing(feed_id, None),),
        fetched_at=datetime(2026, 1, 25, tzinfo=UTC),
        article=article,
        tagging=story and Tagging(tagger=story.tagger),
        outlet_domain=outlet_domain(url),
    )


def _load(session: Session, pages: list[PageResult]) -> None:
    """Through the path every run takes: store.load_pages, in one transaction."""
    with session.begin():
        store.load_pages(session, store.start_run(session, {}, None), pages, "1")


def _store(session: Session, stories: dict[str, Story]) -> dict[str, int]:
    """The stories stored as a run stores them, each under its domain's outlet; their ids by name."""
    with session.begin():
        (feed,) = store.upsert_feeds(session, feeds_from_urls(["https://feeds.example/rss"]))
    _load(session, [_page(story.url, feed.id, story) for story in stories.values()])
    with session.begin():
        ids = {url: id for url, id in session.execute(text("SELECT url, id FROM articles"))}
    return {name: ids[story.url] for name, story in stories.items()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stored(request, tmp_path_factory) -> Iterator[tuple[Session, dict[str, int]]]:
    """The stories in a database of each kind, shared by the tests that only search them."""
    with fresh_database(request.param, tmp_path_factory.mktemp("search")) as url:
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            yield session, _store(session, STORIES)
        engine.dispose()


def _found(session: Session, query: str, filters: Filters = V1, limit: int = 20) -> list[int]:
    with session.begin():
        return [hit.id for hit in search(session, query, filters, limit)]


def _names(ids: dict[str, int], found: list[int]) -> set[str]:
    by_id = {i: name for name, i in ids.items()}
    return {by_id[i] for i in found}


def test_words_are_anded_and_a_quoted_phrase_needs_them_side_by_side(stored) -> None:
    session, ids = stored
    assert _names(ids, _found(session, "humanitarian corridor")) == EVERY_CORRIDOR
    assert _names(ids, _found(session, '"humanitarian corridor"')) == {"A", "B", "C"}  # D has them apart
    assert _names(ids, _found(session, "humanitarian hostages")) == {"B"}


def test_words_are_found_by_their_stem(stored) -> None:
    session, ids = stored
    assert _names(ids, _found(session, "corridors")) == EVERY_CORRIDOR  # A, B, D say "corridor"
    assert _names(ids, _found(session, "corridor")) == EVERY_CORRIDOR  # C says "corridors"
    assert _names(ids, _found(session, "crossing")) == {"A", "C"}  # "crossed", "cross"


def test_a_leading_dash_excludes_a_word_or_a_phrase(stored) -> None:
    session, ids = stored
    assert _names(ids, _found(session, "corridor -convoys")) == {"B", "D"}
    assert _names(ids, _found(session, 'corridor -"humanitarian corridor"')) == {"D"}


def test_or_gives_alternatives_and_and_binds_tighter(stored) -> None:
    session, ids = stored
    assert _names(ids, _found(session, "football OR cairo")) == {"B", "E"}
    assert _names(ids, _found(session, "cairo or football draw")) == {"B", "E"}
    assert _names(ids, _found(session, "cairo or football -draw")) == {"B"}  # cairo OR (football -draw)


def test_a_title_match_ranks_first_and_the_ranks_go_down(stored) -> None:
    session, ids = stored
    with session.begin():
        hits = search(session, "humanitarian corridor", V1, 20)
    assert hits[0].id == ids["A"]  # the only one with both words in its title
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)
    assert hits[0].rank > hits[1].rank
    with session.begin():
        assert [h.id for h in search(session, "humanitarian corridor", V1, 2)] == [h.id for h in hits[:2]]


def test_a_hit_names_its_day_outlet_title_url_and_marks_the_match_in_a_snippet(stored) -> None:
    session, ids = stored
    with session.begin():
        (hit,) = search(session, "hostages", V1, 20)
    assert (hit.id, hit.day, hit.outlet, hit.title, hit.url) == (
        ids["B"],
        "2026-01-12",
        "b.org",
        "Talks resume in Cairo",
        "https://b.org/talks",
    )
    assert "release of [hostages]. The talks" in hit.snippet  # one line, whatever the paragraphs
    with session.begin():
        (phrase,) = search(session, '"humanitarian corridor" hostages', V1, 20)
    # SQLite marks the phrase as one, PostgreSQL each of its words
    assert "a [humanitarian corridor] and" in phrase.snippet.replace("] [", " ")


def test_filters_keep_outlets_days_and_one_tagger_version(stored) -> None:
    session, ids = stored
    assert _names(ids, _found(session, "corridor", Filters("v1", sources=("b.org",)))) == {"B", "D"}
    assert _names(ids, _found(session, "corridor", Filters("v1", since=date(2026, 1, 15)))) == {"C", "D"}
    assert _names(ids, _found(session, "corridor", Filters("v1", until=date(2026, 1, 12)))) == {"A", "B"}
    assert _names(ids, _found(session, "corridor", Filters("v0"))) == {"F"}
    with pytest.raises(UnknownName, match=re.escape("no outlet 'nowhere.org'")), session.begin():
        search(session, "corridor", Filters("v1", sources=("nowhere.org",)), 20)


HOSTILE = {
    '"humanitarian corridor': {"A", "B", "C"},  # a quote left open runs to the end
    "NEAR(humanitarian corridor)": set(),  # not FTS5's NEAR: the words "near humanitarian" and "corridor"
    "title:corridor": set(),  # not a column filter (A has it in its title)
    "^humanitarian": EVERY_CORRIDOR,  # not FTS5's "first word"
    "corridor*": EVERY_CORRIDOR,
    "humanitarian AND corridor": EVERY_CORRIDOR,  # "and" is a common word
    "corridor NOT convoys": {"A", "C"},  # so is "not": only a dash excludes
    "((corridor)) (convoys)": {"A", "C"},
    "'; DROP TABLE articles; --": set(),
    "corridor OR OR or": EVERY_CORRIDOR,
    '"" corridor ""': EVERY_CORRIDOR,
    "\x00corridor\x00": EVERY_CORRIDOR,
    "\ud800corridor": EVERY_CORRIDOR,  # a lone surrogate, as a command line may pass undecodable bytes
    "Humanitarian-Corridor": {"A", "B", "C"},
    "x" * 100_000: set(),
    " ".join(["corridor"] * MAX_WORDS): EVERY_CORRIDOR,
}
UNSEARCHABLE = {
    "": "nothing to search for",
    "   ": "nothing to search for",
    '"': "nothing to search for",
    "()[]{}*:^!?": "nothing to search for",
    "-": "nothing to search for",
    "the of and OR": "nothing to search for",
    "-corridor": "'-corridor' only excludes",
    "cairo or -corridor": "'-corridor' only excludes",
    " ".join(["corridor"] * (MAX_WORDS + 1)): f"at most {MAX_WORDS}",
}


def test_no_input_is_a_syntax_error_only_a_query_without_a_word_is_refused(stored) -> None:
    session, ids = stored
    found = {query[:40]: _names(ids, _found(session, query)) for query in HOSTILE}
    assert found == {query[:40]: expected for query, expected in HOSTILE.items()}
    for query, message in UNSEARCHABLE.items():
        with pytest.raises(UnsearchableQuery, match=message), session.begin():
            search(session, query, V1, 20)
    assert _names(ids, _found(session, "corridor")) == EVERY_CORRIDOR  # nothing was dropped


def test_the_index_follows_articles_inserted_updated_and_deleted_after_the_migration(session) -> None:
    with session.begin():
        (feed,) = store.upsert_feeds(session, feeds_from_urls(["https://feeds.example/rss"]))
    late = Story("https://a.org/late", "Ceasefire holds", "Negotiators met again in Doha.", 21)
    _load(session, [_page(late.url, feed.id)])  # failed first: a row with no text
    assert _found(session, "ceasefire") == []
    _load(session, [_page(late.url, feed.id, late)])  # the next run's upsert turns it into an article
    (article_id,) = _found(session, "ceasefire")
    with session.begin():
        session.execute(
            text("UPDATE articles SET text = 'Negotiators met again in Muscat.' WHERE id = :id"),
            {"id": article_id},
        )
    assert _found(session, "muscat") == [article_id]
    assert _found(session, "doha") == []
    with session.begin():
        for table in ("article_taggings", "feed_items", "page_fetches"):
            session.execute(text(f"DELETE FROM {table} WHERE article_id = :id"), {"id": article_id})
        session.execute(text("DELETE FROM articles WHERE id = :id"), {"id": article_id})
    assert _found(session, "muscat OR ceasefire") == []
    if session.get_bind().dialect.name == "sqlite":  # the external-content index agrees with its rows
        with session.begin():
            session.execute(text("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')"))


def test_an_article_of_over_a_megabyte_of_distinct_words_is_stored_and_found(session) -> None:
    """PostgreSQL refuses a tsvector of over 1 MB of distinct words: unless its index took only the head
    of the text, the article's insert would fail, and with it the run (the error is no DataError)."""
    with session.begin():
        (feed,) = store.upsert_feeds(session, feeds_from_urls(["https://feeds.example/rss"]))
    noise = " ".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(40_000))  # 2.6 MB
    huge = Story("https://a.org/huge", "Leaked ledger", f"Corridor {noise} Zanzibar", 22)
    _load(session, [_page(huge.url, feed.id, huge)])
    assert len(_found(session, "corridor ledger")) == 1
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    assert len(_found(session, "zanzibar")) == (0 if on_postgresql else 1)  # past PostgreSQL's 100,000


def test_an_existing_database_migrated_to_the_index_finds_its_articles(database_url) -> None:
    engine = make_engine(database_url)
    upgrade(engine, _revision_before_the_index())
    ids = _store_as_then(engine, STORIES)  # stored before there was an index
    upgrade(engine)
    with Session(engine) as session:
        assert _names(ids, _found(session, '"humanitarian corridor"')) == {"A", "B", "C"}
    engine.dispose()


def _store_as_then(engine: Engine, stories: dict[str, Story]) -> dict[str, int]:
    """The stories as that older schema held them: only the columns it had (today's store writes more)."""
    with engine.begin() as db:
        for name, story in stories.items():
            db.execute(
                text(
                    "INSERT INTO articles (url_key, url, title, text, authors, outcome, attempts, "
                    "published_at) VALUES (:key, :url, :title, :text, '[]', 'ok', 1, :published)"
                ),
                {"key": name, "url": story.url, "title": story.title, "text": story.text,
                 "published": f"2026-01-{story.day:02d} 12:00:00"},
            )  # fmt: skip
            db.execute(
                text(
                    "INSERT INTO article_taggings (article_id, tagger) "
                    "SELECT id, :tagger FROM articles WHERE url_key = :key"
                ),
                {"tagger": story.tagger, "key": name},
            )
        return {key: id for key, id in db.execute(text("SELECT url_key, id FROM articles"))}


def _revision_before_the_index() -> str:
    """The revision the full-text index migration revises, whatever numbers a merge gives them."""
    (script,) = [
        script
        for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()
        if (script.path or "").endswith("_full_text_search.py")
    ]
    assert isinstance(script.down_revision, str)
    return script.down_revision


def _work_mem(session: Session) -> str:
    return session.scalar(text("SELECT current_setting('work_mem')"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # work_mem is PostgreSQL's
def test_a_postgresql_search_has_32_mb_of_work_mem_in_its_transaction_only(session) -> None:
    with session.begin():
        session.execute(text("SET work_mem = '4MB'"))  # the server's default, whatever this one's is
    with session.begin():
        search(session, "ceasefire", V1, 20)
        assert _work_mem(session) == "32MB"  # a bitmap of 200,000 matches stays exact
    with session.begin():
        assert _work_mem(session) == "4MB"  # SET LOCAL: gone with the search's transaction


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_search_never_lowers_a_larger_work_mem(session) -> None:
    with session.begin():
        session.execute(text("SET work_mem = '256MB'"))
    with session.begin():
        search(session, "ceasefire", V1, 20)
        assert _work_mem(session) == "256MB"
