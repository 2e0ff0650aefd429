"""Poison input: one hostile value in one feed field must cost at most its own row, never a run.

The case that started it: a JSON Feed entry whose link held a NUL character failed every run on PostgreSQL
(text there cannot hold NUL) while SQLite stored it. Every text column now cleans what it is given
(load.types), such links are never fetched (bad_url), and a row the database still refuses becomes a
load_error of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleEntity, Entity, Feed, FeedFetch, FeedItem, PageFetch, Run
from tests.databases import data_counts, fresh_database
from tests.e2e.conftest import run_flow
from tests.localserver import LocalServer, Response

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "site"
HTML = {"Content-Type": "text/html; charset=utf-8"}
JSON_FEED = "application/feed+json"
AID_TITLE = "Aid convoys stuck at Rafah crossing as famine warnings grow"
# A validator with a tab and two latin-1 bytes (obs-text): legal on the wire, sent back byte for byte.
WEIRD_ETAG = '"v1\tÿé"'


def _poison_feed(server: LocalServer, *, extra: tuple[dict[str, object], ...] = ()) -> bytes:
    """The JSON Feed of the incident: one link with a NUL in it, and one good entry whose every text field
    carries NUL, lone surrogates and C0 controls."""
    items = [
        {"id": "bad", "url": server.url("/a/bad\u0000x.html"), "title": "Bad"},
        {
            "id": "good\u0000\ud800",
            "url": server.url("/aid.html"),
            "title": "Aid\u0000 convoys \ud800\x07 stuck\x1b",
            "summary": "Trucks\u0000 wait \udfff at\x01 Rafah\x0b",
            "authors": [{"name": "Jonas\u0000 \udc00Lindqvist\x08"}],
            "author": {"name": "\u0000\ud83d"},
            "date_published": "2024-02-11T14:00:00Z",
        },
        *extra,
    ]
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fixture\u0000 News \ud800\x02 World\x7f",
        "home_page_url": server.url("/"),
        "items": items,
    }
    return json.dumps(feed).encode()  # json.dumps writes NUL and lone surrogates as \u escapes


def _serve_poison_site(server: LocalServer, etag: str = WEIRD_ETAG, **kwargs: object) -> None:
    for name in ("aid", "hostages"):
        server.routes[f"/{name}.html"] = Response((SITE / f"{name}.html").read_bytes(), headers=HTML)
    server.routes["/poison.json"] = Response(
        _poison_feed(server, **kwargs), headers={"Content-Type": JSON_FEED, "ETag": etag}
    )


def test_a_nul_in_one_link_fails_nothing_and_the_next_run_is_green(server, database_url) -> None:
    _serve_poison_site(server)
    feed_url = server.url("/poison.json")

    first = run_flow(database_url, feed_urls=[feed_url])

    assert first["skipped_reason"] is None
    assert first["feed_outcomes"] == {"ok": 1}
    assert first["page_outcomes"] == {"bad_url": 1, "ok": 1}
    assert (first["articles_new"], first["articles_failed"]) == (1, 1)
    assert not any("bad" in path for path in server.paths_requested())  # the bad link was never fetched
    engine = make_engine(database_url)
    with engine.connect() as db:
        assert list(db.execute(select(Run.status)).scalars()) == ["completed"]
        articles = {row.url: row for row in db.execute(select(Article))}
        assert set(articles) == {server.url("/a/bad%00x.html"), server.url("/aid.html")}
        bad, good = articles[server.url("/a/bad%00x.html")], articles[server.url("/aid.html")]
        assert (bad.outcome, bad.text) == ("bad_url", None)
        assert good.outcome == "ok" and good.title == AID_TITLE
        assert "famine is imminent in northern Gaza" in good.text
        fetches = dict(db.execute(select(PageFetch.article_id, PageFetch.outcome)).all())
        assert fetches == {bad.id: "bad_url", good.id: "ok"}
        # The feed's fields as the databases hold them: controls gone, lone surrogates marked, tab kept.
        title, etag = db.execute(select(Feed.title, Feed.etag)).one()
        assert (title, etag) == ("Fixture News \ufffd World\x7f", WEIRD_ETAG)
        guids = dict(db.execute(select(FeedItem.article_id, FeedItem.guid)).all())
        assert guids == {bad.id: "bad", good.id: "good\ufffd"}

    second = run_flow(database_url, feed_urls=[feed_url])

    assert second["feed_outcomes"] == {"not_modified": 1} and second["page_outcomes"] == {}
    # The conditional GET sent back the validator exactly as the server sent it, tab and latin-1 included.
    assert server.requests[-1].headers.get("If-None-Match") == WEIRD_ETAG

    # The feed changes (a new entry, a new validator): the poison entry is read again, and is known.
    _serve_poison_site(
        server,
        etag='"v2\t\xa0"',
        extra=({"id": "new\x00", "url": server.url("/hostages.html"), "title": "\ud800"},),
    )
    third = run_flow(database_url, feed_urls=[feed_url])

    assert third["feed_outcomes"] == {"ok": 1}
    assert third["page_outcomes"] == {"ok": 1} and third["articles_duplicate"] == 2
    with engine.connect() as db:
        assert list(db.execute(select(Run.status).order_by(Run.id)).scalars()) == ["completed"] * 3
        outcomes = sorted(db.execute(select(Article.outcome)).scalars())
        assert outcomes == ["bad_url", "ok", "ok"]
        assert sorted(db.execute(select(FeedFetch.outcome)).scalars()) == ["not_modified", "ok", "ok"]
        assert db.execute(select(Feed.etag)).scalar_one() == '"v2\t\xa0"'
    engine.dispose()


# --- arbitrary Unicode in every field -------------------------------------------------------------------

PAGES = ("aid", "hostages", "markets", "talks")
LONG = 10_000
# What breaks storage, parsing or display most often, over-represented next to the whole code space.
SPECIAL_CHARS = (
    "\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x85\x9f\t\n\r \xa0\u2028\u2029\ufeff\ufffd\ufffe\uffff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi embeddings, overrides and isolates
    "\ud800\udbff\udc00\udfff"  # lone surrogates, high and low
    "\U0010ffff\U0001f600&<>]'\"%#?/\\"
)
# What neither database stores as such, or what hides text: NUL and the other C0 controls, DEL, lone
# surrogates, bidi controls.
POISON_CHARS = "".join(map(chr, [*range(0x20), 0x7F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
POISON_CHARS += "\ud800\udbff\udc00\udfff"
# The whole code space, lone surrogates included (st.characters leaves them out unless told).
WILD_CHARS = st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL_CHARS))


def _repeat_to(text: str, size: int = LONG) -> str:
    return (text * (size // len(text) + 1))[:size]


WILD_TEXT = st.one_of(
    st.just(""),
    st.text(WILD_CHARS, max_size=30),
    # Arbitrary text with poison certainly in it: a small budget of examples must still meet it often.
    st.builds(
        "".join,
        st.tuples(
            st.text(WILD_CHARS, max_size=10),
            st.text(st.sampled_from(POISON_CHARS), min_size=1, max_size=3),
            st.text(WILD_CHARS, max_size=10),
        ),
    ),
    st.text(WILD_CHARS, min_size=1, max_size=6).map(_repeat_to),  # 10,000 characters
)
OFFSETS = ("", "Z", "+00:00", "+05:30", "-05:00", "+14:00", "-12:00")
DATES = st.one_of(
    WILD_TEXT,
    st.builds(lambda d, z: d.isoformat() + z, st.datetimes(), st.sampled_from(OFFSETS)),
    st.builds(
        lambda d, z: d.strftime("%a, %d %b %Y %H:%M:%S ") + z,
        st.datetimes(),
        st.sampled_from(("GMT", "+0530", "-0800", "EST", "zz")),
    ),
)
OPTIONAL = st.one_of(st.none(), WILD_TEXT)


@dataclass(frozen=True)
class EntrySpec:
    """An ordinary entry links a fixture page; a hostile one a path of arbitrary characters on the server."""

    page: str | None
    path: str
    title: str | None
    summary: str | None
    author: str | None
    guid: str | None
    date: str | None

    def link(self, server: LocalServer) -> str:
        return server.url(f"/{self.page}.html") if self.page else server.url("/h/") + self.path


@dataclass(frozen=True)
class FeedSpec:
    kind: str  # "rss" or "json"
    title: str | None
    entries: tuple[EntrySpec, ...]
    char_refs: bool  # RSS: controls written as character references (&#x0;) rather than raw

    def body(self, server: LocalServer) -> bytes:
        return _json_feed(self, server) if self.kind == "json" else _rss_feed(self, server)


ENTRIES = st.builds(
    EntrySpec,
    page=st.one_of(st.none(), st.sampled_from(PAGES)),
    path=st.one_of(
        WILD_TEXT, st.builds("{}{}x{}".format, WILD_TEXT, st.sampled_from(POISON_CHARS), WILD_TEXT)
    ),
    title=OPTIONAL,
    summary=OPTIONAL,
    author=OPTIONAL,
    guid=OPTIONAL,
    date=st.one_of(st.none(), DATES),
)
# Up to 6 entries a feed (3.5 on average, Hypothesis's own average for lists of 1 to 6): an example costs two
# flow runs whatever its entries (see the test), so each run reads more hostile entries, and 8 examples of
# these read as many entries in all as 15 examples of 1 to 3 did (about 2 each), in half the runs.
FEEDS = st.builds(
    FeedSpec,
    kind=st.sampled_from(("rss", "json")),
    title=OPTIONAL,
    entries=st.lists(ENTRIES, min_size=1, max_size=6).map(tuple),
    char_refs=st.booleans(),
)


def _serve_pages(server: LocalServer) -> None:
    for name in PAGES:
        server.routes[f"/{name}.html"] = Response((SITE / f"{name}.html").read_bytes(), headers=HTML)


def _json_feed(feed: FeedSpec, server: LocalServer) -> bytes:
    def item(entry: EntrySpec) -> dict[str, object]:
        fields = {
            "id": entry.guid,
            "url": entry.link(server),
            "title": entry.title,
            "summary": entry.summary,
            "content_html": entry.summary,
            "authors": None if entry.author is None else [{"name": entry.author}],
            "date_published": entry.date,
        }
        return {name: value for name, value in fields.items() if value is not None}

    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [item(e) for e in feed.entries]}
    if feed.title is not None:
        doc["title"] = feed.title
    return json.dumps(doc).encode("ascii")  # NUL, controls and lone surrogates as \u escapes


_XML_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _rss_feed(feed: FeedSpec, server: LocalServer) -> bytes:
    """RSS 2.0 with every value as given: markup escaped; controls and lone surrogates either raw (surrogates
    as the bytes 'surrogatepass' gives) or as character references (&#x0;, &#xd800;), which send the feed to
    feedparser's loose parser."""

    def text(value: str) -> str:
        escaped = escape(value)
        return _XML_CONTROLS.sub(lambda m: f"&#x{ord(m.group()):x};", escaped) if feed.char_refs else escaped

    def element(name: str, value: str | None) -> str:
        return "" if value is None else f"<{name}>{text(value)}</{name}>"

    items = "".join(
        "<item>"
        + element("title", e.title)
        + element("link", e.link(server))
        + element("description", e.summary)
        + element("author", e.author)
        + element("dc:creator", e.author)
        + element("guid", e.guid)
        + element("pubDate", e.date)
        + "</item>"
        for e in feed.entries
    )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"{element('title', feed.title)}<link>{server.url('/')}</link>{items}</channel></rss>"
    )
    return doc.encode("utf-8", "surrogatepass")


def _canonical_dump(database_url: str) -> dict[str, object]:
    """What a run stored, without ids or clock times: rows in a stable order, by value."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as db:

            def rows(*columns: object, via: object = None) -> list[tuple[object, ...]]:
                query = select(*columns)
                if via is not None:  # a table linked to articles: its rows named by the article's url
                    query = query.select_from(via).join(Article)
                return sorted((tuple(row) for row in db.execute(query)), key=repr)

            return {
                "counts": data_counts(engine),
                "runs": rows(Run.status, Run.error),
                "feeds": rows(Feed.url, Feed.title, Feed.etag, Feed.last_modified, Feed.status),
                "articles": rows(
                    Article.url,
                    Article.final_url,
                    Article.canonical_url,
                    Article.title,
                    Article.outcome,
                    Article.text,
                    Article.authors,
                    Article.published_at,
                    Article.language,
                    Article.encoding,
                ),
                "feed_items": rows(Article.url, FeedItem.guid, via=FeedItem),
                "page_fetches": rows(
                    Article.url, PageFetch.outcome, PageFetch.http_status, PageFetch.detail, via=PageFetch
                ),
                "feed_fetches": rows(
                    FeedFetch.outcome,
                    FeedFetch.http_status,
                    FeedFetch.entries_seen,
                    FeedFetch.entries_new,
                    FeedFetch.entries_without_link,
                    FeedFetch.entries_duplicate,
                    FeedFetch.dates_nulled,
                    FeedFetch.detail,
                ),
                "entities": rows(
                    Article.url,
                    Entity.name,
                    Entity.label,
                    ArticleEntity.count,
                    via=ArticleEntity.__table__.join(Entity),
                ),
            }
    finally:
        engine.dispose()


# About 3 s a flow run, nearly all of it fixed (the run's worker process importing its libraries and loading
# spaCy), so about 6 s an example: hence few examples, each a feed of several entries (see FEEDS), which
# still meets every field, both feed formats and both ways of writing controls in RSS. A failure is shrunk
# for up to Hypothesis's own 300 s, which the default timeout would cut short.
@pytest.mark.timeout(600)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(feed=FEEDS)
def test_arbitrary_unicode_in_every_feed_field_never_fails_a_run_and_both_databases_agree(
    server, feed
) -> None:
    _serve_pages(server)
    content_type = JSON_FEED if feed.kind == "json" else "application/rss+xml"
    server.routes["/feed"] = Response(feed.body(server), headers={"Content-Type": content_type})
    dumps = {}
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("sqlite", "postgresql"):
            with fresh_database(kind, Path(scratch)) as database_url:
                summary = run_flow(database_url, feed_urls=[server.url("/feed")])
                dumps[kind] = summary, _canonical_dump(database_url)

    summary, dump = dumps["sqlite"]
    assert summary["skipped_reason"] is None and dump["runs"] == [("completed", None)]
    ((feed_outcome, _, seen, _, without_link, duplicate, _, _),) = dump["feed_fetches"]
    if feed_outcome == "ok":  # every entry is accounted for: fetched once, or counted as dropped
        assert seen + without_link + duplicate == len(feed.entries)
        assert len(dump["page_fetches"]) == seen
    articles = {row[0]: row for row in dump["articles"]}
    for entry in feed.entries:
        if entry.page is not None:
            url = server.url(f"/{entry.page}.html")
            _, _, _, _, outcome, text, *_ = articles[url]
            assert outcome == "ok" and text, articles[url]
    assert dumps["postgresql"] == dumps["sqlite"]


# --- poison input that once cost more than its own row ---------------------------------------------------


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_json_feed_date_at_the_edge_of_the_calendar_costs_its_date_not_the_run(
    server, tmp_path, date
) -> None:
    _serve_pages(server)
    items = [
        {"id": "edge", "url": server.url("/aid.html"), "date_published": date},
        {"id": "fine", "url": server.url("/markets.html")},
    ]
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Edge", "items": items}
    server.routes["/edge.json"] = Response(json.dumps(doc).encode(), headers={"Content-Type": JSON_FEED})

    with fresh_database("sqlite", tmp_path) as database_url:
        summary = run_flow(database_url, feed_urls=[server.url("/edge.json")])

    assert summary["page_outcomes"] == {"ok": 2}


def test_a_lone_surrogate_character_reference_in_rss_costs_one_field_not_the_feed(server, tmp_path) -> None:
    _serve_pages(server)
    items = (
        f"<item><title>bad &#xd800; title</title><link>{server.url('/aid.html')}</link></item>"
        f"<item><title>fine</title><link>{server.url('/markets.html')}</link></item>"
    )
    server.routes["/surrogate.rss"] = Response(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}'
        "</channel></rss>".encode(),
        headers={"Content-Type": "application/rss+xml"},
    )

    with fresh_database("sqlite", tmp_path) as database_url:
        summary = run_flow(database_url, feed_urls=[server.url("/surrogate.rss")])

    assert summary["feed_outcomes"] == {"ok": 1}
    assert summary["page_outcomes"] == {"ok": 2}


def test_the_poison_feed_through_the_command_line_exits_0_twice_on_postgresql(
    server, tmp_path, prefect_api
) -> None:
    """The incident as a user met it: `newsetl run` on PostgreSQL, a feeds file listing the poison feed."""
    _serve_poison_site(server)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {server.url('/poison.json')}\n    source: Fixture News\n")
    environment = {**os.environ, "PREFECT_API_URL": prefect_api}
    command = ["newsetl", "run", "--feeds", str(feeds), "--allow-network", "127.0.0.0/8"]
    with fresh_database("postgresql", tmp_path) as database_url:
        for _ in range(2):
            done = subprocess.run(
                [*command, "--db", database_url], env=environment, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, done.stderr
        with make_engine(database_url).connect() as db:
            stored = dict(db.execute(select(Article.outcome, Article.text)).all())
    assert set(stored) == {"ok", "bad_url"} and stored["ok"]
