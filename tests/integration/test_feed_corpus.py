"""parse_feed over the 140 real feeds in ../shared/corpus/feeds (read in place, never copied here).

Three layers: every file ends in a ParsedFeed or a FeedParseError from the closed set; where feed-rs
ships its expectations (`*.serde.json` beside a feed) links, titles and dates agree; and concrete facts
about charsets, raw gzip and relative links hold.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsetl.extract.records import Outcome
from newsetl.transform.feeds import FeedParseError, parse_feed
from newsetl.transform.records import ParsedFeed
from newsetl.transform.urls import normalize_url, resolve_link
from tests.conftest import corpus_dir

pytestmark = pytest.mark.corpus

FEED_URL = "https://example.org/feeds/feed.xml"  # base for relative links: the corpus has no origin URL
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every corpus date, so the future-date rule stays out of it
_NOT_FEEDS = {"LICENSE", "LICENSE-MIT", "SOURCE.txt"}
_EXPECTATIONS = ".serde.json"

# The files that do not parse, and why. Everything else must come out as a ParsedFeed.
REFUSED = {
    "feed-rs/rss2/rss_2.0_invalid_1.xml": "parse_error",  # truncated before its first <item>
    "feed-rs/xml/xml_sample_1.xml": "not_a_feed",  # a <catalog>, well-formed XML of another kind
    "feed-rs/xml/xml_sample_2.xml": "not_a_feed",
    "node-feedparser/notafeed.html": "not_a_feed",  # an HTML page
    # feedjira's "FirstEntry" fixtures are HTML fragments of an entry's content, not feeds:
    "feedjira/AmazonWebServicesBlogFirstEntryContent.xml": "not_a_feed",
    "feedjira/HREFConsideredHarmfulFirstEntry.xml": "not_a_feed",
    "feedjira/PaulDixExplainsNothingFirstEntryContent.xml": "not_a_feed",
    "feedjira/TechCrunchFirstEntry.xml": "not_a_feed",
    "feedjira/TechCrunchFirstEntryDescription.xml": "not_a_feed",
    "feedjira/TenderLovemakingFirstEntry.xml": "not_a_feed",
}

# Where we knowingly differ from feed-rs on an entry's link.
LINK_DISAGREEMENTS = {
    # The entry has no <link>, only an http(s) Atom <id>; feedparser offers the id as the link, and a
    # fetchable permalink-looking id is worth fetching. feed-rs gives no link.
    "atom_xml_base.xml": "Atom id used as the link",
    # RSS 2.0: a <guid> without isPermaLink="false" *is* the permalink (spec default); feed-rs ignores
    # it. The two guids differ only by #fragment, so they are one page to us.
    "rss_2.0_spec_1.xml": "permalink guid used as the link",
}
# Where we knowingly differ from feed-rs on an entry's date (compared to the second: feedparser's
# struct_time has no sub-second part).
DATE_DISAGREEMENTS = {
    "rss_2.0_ilmessaggero.xml": "Italian day/month names ('mer, 16 nov 2022'): feedparser gives None",
    "rss_2.0_nbcny.xml": "'Sat, Dec 16 2023 02:02:33 PM': feedparser reads it (dropping PM), feed-rs refuses",
    "rss_1.0_example_1.xml": "'+00:0' offset: feedparser reads it, feed-rs refuses",
}


def _feed_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.name not in _NOT_FEEDS and not path.name.endswith(_EXPECTATIONS)
    )


def _parse(
    path: Path, media_type: str | None = None, charset: str | None = None
) -> ParsedFeed | FeedParseError:
    try:
        return parse_feed(path.read_bytes(), FEED_URL, media_type=media_type, charset=charset, now=NOW)
    except FeedParseError as error:
        return error


@pytest.fixture(scope="module")
def feeds_root() -> Path:
    return corpus_dir("feeds")


@pytest.fixture(scope="module")
def results(feeds_root: Path) -> dict[str, ParsedFeed | FeedParseError]:
    return {path.relative_to(feeds_root).as_posix(): _parse(path) for path in _feed_files(feeds_root)}


def test_every_corpus_file_ends_in_a_feed_or_a_closed_outcome(results: dict) -> None:
    assert len(results) == 140
    refused = {name: r.outcome for name, r in results.items() if isinstance(r, FeedParseError)}
    assert refused == REFUSED
    assert {Outcome(outcome) for outcome in refused.values()} <= {Outcome.NOT_A_FEED, Outcome.PARSE_ERROR}
    assert all(isinstance(r, ParsedFeed) for name, r in results.items() if name not in REFUSED)
    counts = Counter("ok" if isinstance(r, ParsedFeed) else r.outcome for r in results.values())
    assert counts == {"ok": 130, "not_a_feed": 9, "parse_error": 1}


def test_every_entry_is_a_clean_absolute_web_link(results: dict) -> None:
    for name, feed in results.items():
        if isinstance(feed, ParsedFeed):
            for entry in feed.entries:
                assert resolve_link(entry.link, "") == entry.link, name
                assert entry.published_at is None or entry.published_at.tzinfo is not None, name
                assert "\x00" not in (entry.title or "") + (entry.summary or ""), name


def _expectation_pairs(feeds_root: Path) -> list[tuple[Path, dict]]:
    pairs = []
    for expectation in sorted(feeds_root.glob(f"feed-rs/**/*{_EXPECTATIONS}")):
        stem = expectation.name.removesuffix(_EXPECTATIONS)
        (feed,) = [p for p in expectation.parent.glob(f"{stem}.*") if not p.name.endswith(_EXPECTATIONS)]
        pairs.append((feed, json.loads(expectation.read_text(encoding="utf-8"))))
    return pairs


def _expected_link(entry: dict) -> str | None:
    """feed-rs keeps links as written; resolve them the way we do: first alternate http(s) link."""
    for link in entry["links"]:
        if link.get("rel") in (None, "alternate") and (resolved := resolve_link(link["href"], FEED_URL)):
            return normalize_url(resolved)
    return None


def _content(text: dict | None) -> str | None:
    return " ".join(text["content"].split()) or None if text else None


def test_links_agree_with_feed_rs(feeds_root: Path, results: dict) -> None:
    pairs = _expectation_pairs(feeds_root)
    assert len(pairs) == 64
    agreeing = []
    for feed, expected in pairs:
        want = list(dict.fromkeys(link for e in expected["entries"] if (link := _expected_link(e))))
        got = [
            normalize_url(entry.link) for entry in results[feed.relative_to(feeds_root).as_posix()].entries
        ]
        if feed.name in LINK_DISAGREEMENTS:
            assert got != want, f"{feed.name} agrees now: drop it from LINK_DISAGREEMENTS"
        else:
            assert got == want, feed.name
            agreeing.append(feed.name)
    assert len(agreeing) == 62


def test_titles_agree_with_feed_rs(feeds_root: Path, results: dict) -> None:
    for feed, expected in _expectation_pairs(feeds_root):
        parsed = results[feed.relative_to(feeds_root).as_posix()]
        assert parsed.title == _content(expected["title"]), feed.name
        want = {link: _content(e["title"]) for e in expected["entries"] if (link := _expected_link(e))}
        for entry in parsed.entries:
            assert want.get(normalize_url(entry.link), entry.title) == entry.title, feed.name


def test_dates_agree_with_feed_rs(feeds_root: Path, results: dict) -> None:
    compared = 0
    for feed, expected in _expectation_pairs(feeds_root):
        got = {
            normalize_url(e.link): e.published_at
            for e in results[feed.relative_to(feeds_root).as_posix()].entries
        }
        for entry in expected["entries"]:
            link = _expected_link(entry)
            when = entry["published"] or entry["updated"]
            if link not in got or feed.name in DATE_DISAGREEMENTS:
                continue
            want = datetime.fromisoformat(when).replace(microsecond=0) if when else None
            assert got[link] == want, feed.name
            compared += 1
    assert compared >= 80


def test_golem_iso_8859_1_umlauts(feeds_root: Path) -> None:
    path = feeds_root / "feed-rs/rss1/rss_1.0_iso8859.xml"
    for media_type, charset in ((None, None), ("application/rdf+xml", None), ("text/xml", "iso-8859-1")):
        feed = _parse(path, media_type, charset)
        assert feed.title == "Golem.de"
        assert feed.entries[0].title == "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse"
        assert feed.entries[0].published_at == datetime(2023, 1, 25, 18, 3, 2, tzinfo=UTC)


def test_windows_1251_russian_feed_is_cyrillic(feeds_root: Path) -> None:
    feed = _parse(feeds_root / "node-feedparser/iconv.xml")
    assert feed.title == "Новости Оренбурга и области / Раздел Новости"
    first = "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"  # noqa: RUF001 -- Cyrillic on purpose
    assert feed.entries[0].title == first
    assert len(feed.entries) == 10


def test_raw_gzip_files_parse_like_their_plain_twin(feeds_root: Path) -> None:
    plain = _parse(feeds_root / "node-feedparser/iconv.xml")
    assert _parse(feeds_root / "node-feedparser/compressed.xml") == plain
    nshipster = _parse(feeds_root / "node-feedparser/invalid-characters-gzipped.xml")
    assert nshipster.title == "NSHipster"
    assert len(nshipster.entries) == 25


def test_whitespace_before_xml_declaration_parses_without_warning(feeds_root: Path) -> None:
    for name in ("feedjira/TechCrunch.xml", "feedjira/SamRuby.xml", "feed-rs/atom/atom_example_4.xml"):
        path = feeds_root / name
        assert path.read_bytes()[:1].isspace()
        feed = _parse(path)
        assert feed.entries, name
        assert feed.warning is None, name


def test_relative_links_resolve_against_the_feed_url(feeds_root: Path) -> None:
    feed = _parse(feeds_root / "feed-rs/atom/atom_relative.xml")
    assert feed.site_url == "https://example.org/blog/"
    assert feed.entries[0].link == "https://example.org/blog/2003/12/13/atom03"


def test_duplicate_guids_and_malformed_feeds(feeds_root: Path) -> None:
    assert len(_parse(feeds_root / "node-feedparser/guid-dupes.xml").entries) == 1
    saxerror = _parse(feeds_root / "node-feedparser/saxerror.xml")
    assert len(saxerror.entries) == 3
    assert saxerror.warning.startswith("SAXParseException")


def test_json_feeds(feeds_root: Path) -> None:
    escaped = _parse(feeds_root / "feedjira/json_feed_with_escaped_uris.json", "application/feed+json")
    assert escaped.site_url == "https://lukedorny.com"
    assert len(escaped.entries) == 30
    assert escaped.entries[0].link == "https://lukedorny.com/updates/new-font"


def test_html_served_as_a_feed_is_not_a_feed(feeds_root: Path) -> None:
    error = _parse(feeds_root / "node-feedparser/notafeed.html", "text/html")
    assert isinstance(error, FeedParseError)
    assert error.outcome == Outcome.NOT_A_FEED
