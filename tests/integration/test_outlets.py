"""Every article has an outlet: the feed's named source, else the outlet of its registrable domain. On a
real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from newsetl.flows.feedlist import feed_spec, feeds_from_urls
from newsetl.flows.outlets import adopt_orphans
from newsetl.load import registry, store
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import Article, Source
from newsetl.transform.records import FeedSpec, Listing, PageResult
from newsetl.transform.urls import outlet_domain, url_key


def _page(url: str, feed_id: int) -> PageResult:
    return PageResult(
        url_key=url_key(url),
        url=url,
        outcome="server_error",  # a page that failed is an article row too, and needs its outlet as much
        http_status=503,
        duration_ms=1,
        listings=(Listing(feed_id, url),),
        outlet_domain=outlet_domain(url),
    )


def _load(session: Session, pages: list[PageResult]) -> None:
    with session.begin():
        store.load_pages(session, store.start_run(session, {}, None), pages, "1")


def _feeds(session: Session, specs: list[FeedSpec], sync: bool = False) -> list[int]:
    with session.begin():
        if sync:
            registry.sync_feed_file(session, specs)
        return [feed.id for feed in store.upsert_feeds(session, specs)]


def _outlets_of_articles(session: Session) -> dict[str, tuple[str, str | None]]:
    query = select(Article.url, Source.name, Source.domain).join(Source, Source.id == Article.source_id)
    with session.begin():
        return {url: (name, domain) for url, name, domain in session.execute(query)}


def _sources(session: Session) -> list[tuple[str, str | None]]:
    with session.begin():
        return sorted((name, domain) for name, domain in session.execute(select(Source.name, Source.domain)))


def test_articles_of_an_unnamed_aggregator_feed_go_to_the_outlets_of_their_own_domains(session) -> None:
    (aggregator,) = _feeds(session, feeds_from_urls(["https://news.google.com/rss"]))
    urls = [
        "https://www.bbc.co.uk/news/world-1",
        "https://feeds.bbci.co.uk/news/world-2",
        "https://news.bbc.co.uk/2/hi/3",
        "https://www.theguardian.com/world/4",
        "https://someone.blogspot.com/5",
    ]
    _load(session, [_page(url, aggregator) for url in urls])

    assert _outlets_of_articles(session) == {
        urls[0]: ("bbc.co.uk", "bbc.co.uk"),
        urls[1]: ("bbci.co.uk", "bbci.co.uk"),
        urls[2]: ("bbc.co.uk", "bbc.co.uk"),
        urls[3]: ("theguardian.com", "theguardian.com"),
        urls[4]: ("someone.blogspot.com", "someone.blogspot.com"),  # a blog on a shared host is its own
    }


def test_a_named_feed_gives_its_outlet_to_every_article_it_lists_whatever_their_domain(session) -> None:
    named, unnamed = _feeds(
        session,
        [
            feed_spec("https://feeds.bbci.co.uk/news/rss.xml", "BBC News"),
            *feeds_from_urls(["https://a.org/rss"]),
        ],
    )
    _load(session, [_page("https://www.bbc.com/news/1", named), _page("https://www.bbc.com/news/2", unnamed)])

    assert _outlets_of_articles(session) == {
        "https://www.bbc.com/news/1": ("BBC News", "bbci.co.uk"),
        "https://www.bbc.com/news/2": ("bbc.com", "bbc.com"),
    }


def test_an_article_keeps_the_outlet_it_was_first_stored_under(session) -> None:
    (unnamed,) = _feeds(session, feeds_from_urls(["https://a.org/rss"]))
    _load(session, [_page("https://b.org/1", unnamed)])
    (named,) = _feeds(session, [feed_spec("https://c.org/rss", "C")])
    _load(session, [_page("https://b.org/1", named)])  # listed again, by a named feed

    assert _outlets_of_articles(session) == {"https://b.org/1": ("b.org", "b.org")}


def test_a_name_given_later_names_the_outlet_found_from_its_articles(session) -> None:
    (adhoc,) = _feeds(session, feeds_from_urls(["https://www.theguardian.com/world/rss"]))
    _load(session, [_page("https://www.theguardian.com/world/1", adhoc)])
    (listed,) = _feeds(session, [feed_spec("https://www.theguardian.com/uk/rss", "The Guardian")], sync=True)
    _load(session, [_page("https://www.theguardian.com/uk/2", listed)])
    (later,) = _feeds(session, feeds_from_urls(["https://amp.theguardian.com/rss"]))
    _load(session, [_page("https://amp.theguardian.com/3", later)])

    assert _sources(session) == [("The Guardian", "theguardian.com")]
    assert {name for name, _ in _outlets_of_articles(session).values()} == {"The Guardian"}


def test_two_names_for_one_domain_are_two_outlets_and_the_first_keeps_the_domain(session) -> None:
    world, middle_east = _feeds(
        session,
        [
            feed_spec("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC World"),
            feed_spec("https://feeds.bbci.co.uk/news/middle_east/rss.xml", "BBC Middle East"),
        ],
    )
    (adhoc,) = _feeds(session, feeds_from_urls(["https://a.org/rss"]))
    pages = [
        _page("https://feeds.bbci.co.uk/1", world),
        _page("https://feeds.bbci.co.uk/2", middle_east),
        _page("https://feeds.bbci.co.uk/3", adhoc),
    ]
    _load(session, pages)

    assert _sources(session) == [("BBC Middle East", "bbci.co.uk"), ("BBC World", None)]  # names sorted
    assert {url: name for url, (name, _) in _outlets_of_articles(session).items()} == {
        "https://feeds.bbci.co.uk/1": "BBC World",
        "https://feeds.bbci.co.uk/2": "BBC Middle East",
        "https://feeds.bbci.co.uk/3": "BBC Middle East",  # the domain's holder
    }


def test_articles_stored_before_outlets_existed_get_theirs_and_domains_are_claimed_again(
    database_url,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0004")
    with engine.begin() as db:
        db.execute(text("INSERT INTO sources (name, domain) VALUES ('Named', 'feeds.named.org')"))
        db.execute(
            text(
                "INSERT INTO feeds (url, url_key, source_id) VALUES ('https://feeds.named.org/rss', 'f1', 1)"
            )
        )
        db.execute(text("INSERT INTO feeds (url, url_key) VALUES ('https://agg.example/rss', 'f2')"))
        for n, url in enumerate(["https://named.org/1", "https://www.other.org/2", "https://x.other.org/3"]):
            db.execute(
                text(
                    "INSERT INTO articles (url_key, url, authors, outcome, attempts) "
                    "VALUES (:k, :u, '[]', 'ok', 1)"
                ),
                {"k": f"a{n}", "u": url},
            )
        db.execute(text("INSERT INTO feed_items (feed_id, article_id) VALUES (1, 1), (2, 2), (2, 3), (1, 3)"))
    upgrade(engine)
    with Session(engine) as session:
        assert _sources(session) == [("Named", None)]  # the host it held is no registrable domain

        assert adopt_orphans(_writer(session)) == 3
        assert adopt_orphans(_writer(session)) == 0
        assert _outlets_of_articles(session) == {
            "https://named.org/1": ("Named", None),
            "https://www.other.org/2": ("other.org", "other.org"),
            "https://x.other.org/3": ("Named", None),  # a named feed listed it too
        }
        _feeds(session, [feed_spec("https://feeds.named.org/rss", "Named")], sync=True)
        assert _sources(session) == [("Named", "named.org"), ("other.org", "other.org")]
    engine.dispose()


def test_a_named_outlet_claiming_its_domain_back_takes_over_the_outlet_found_meanwhile(session) -> None:
    with session.begin():
        session.execute(text("INSERT INTO sources (name, domain) VALUES ('Named', NULL)"))  # as migrated
    (adhoc,) = _feeds(session, feeds_from_urls(["https://named.example/rss"]))
    _load(session, [_page("https://named.example/1", adhoc)])
    assert _sources(session) == [("Named", None), ("named.example", "named.example")]

    _feeds(session, [feed_spec("https://named.example/rss", "Named")], sync=True)

    assert _sources(session) == [("Named", "named.example")]
    assert _outlets_of_articles(session) == {"https://named.example/1": ("Named", "named.example")}


def _writer(session: Session) -> Callable[[Callable[[Session], Any], str], Any]:
    def write(work: Callable[[Session], Any], _what: str) -> Any:
        with session.begin():
            return work(session)

    return write
