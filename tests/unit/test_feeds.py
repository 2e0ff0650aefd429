"""parse_feed on small hand-written feeds: one rule per test."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsetl.extract.records import Outcome
from newsetl.transform.feeds import MAX_FEED_BYTES, FeedParseError, parse_feed
from newsetl.transform.records import FeedEntry, ParsedFeed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
FEED_URL = "https://news.example.org/feeds/all.rss"
NOW = datetime(2024, 2, 1, tzinfo=UTC)


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _rss(items: str, prolog: bytes = b'<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    body = f'<rss version="2.0"><channel><title>T</title><link>https://news.example.org/</link>{items}</channel></rss>'
    return prolog + body.encode("utf-8")


def _refused(body: bytes, media_type: str | None = None) -> FeedParseError:
    with pytest.raises(FeedParseError) as raised:
        parse_feed(body, FEED_URL, media_type=media_type, now=NOW)
    return raised.value


@pytest.fixture(scope="module")
def entry_rules() -> ParsedFeed:
    return parse_feed(_fixture("entry_rules.rss"), FEED_URL, media_type="application/rss+xml", now=NOW)


def _by_guid(feed: ParsedFeed, guid: str) -> list[FeedEntry]:
    return [entry for entry in feed.entries if entry.guid == guid]


def test_feed_title_and_relative_site_url(entry_rules: ParsedFeed) -> None:
    assert entry_rules.title == "Entry rules"
    assert entry_rules.site_url == "https://news.example.org/news/"
    assert entry_rules.warning is None


def test_relative_link_is_resolved_against_the_feed_url(entry_rules: ParsedFeed) -> None:
    assert entry_rules.entries[0].link == "https://news.example.org/news/2024/relative-story"


def test_entries_without_a_usable_link_are_counted_and_dropped(entry_rules: ParsedFeed) -> None:
    assert entry_rules.entries_without_link == 2  # no <link>, and a javascript: link
    assert not _by_guid(entry_rules, "nolink-1")
    assert not _by_guid(entry_rules, "js-1")


def test_duplicate_link_is_kept_once_first_wins(entry_rules: ParsedFeed) -> None:
    # The second item differs only by a tracking parameter and a fragment: same url_key.
    assert [entry.title for entry in entry_rules.entries].count("Relative link") == 1
    assert not _by_guid(entry_rules, "rel-1-again")


def test_duplicate_guid_with_another_link_is_another_page(entry_rules: ParsedFeed) -> None:
    links = [entry.link for entry in _by_guid(entry_rules, "rel-1")]
    assert links == [
        "https://news.example.org/news/2024/relative-story",
        "https://news.example.org/news/2024/other-story",
    ]


def test_dates_are_utc_aware(entry_rules: ParsedFeed) -> None:
    published = entry_rules.entries[0].published_at
    assert published == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert published.tzinfo is not None


def test_naive_date_is_taken_as_utc(entry_rules: ParsedFeed) -> None:
    (entry,) = _by_guid(entry_rules, "naive-1")
    assert entry.published_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def test_date_far_in_the_future_is_dropped(entry_rules: ParsedFeed) -> None:
    (entry,) = _by_guid(entry_rules, "future-1")
    assert entry.published_at is None


def test_date_within_the_future_tolerance_is_kept() -> None:
    items = (
        "<item><link>https://news.example.org/a</link><pubDate>Fri, 02 Feb 2024 12:00:00 GMT</pubDate></item>"
    )
    (entry,) = parse_feed(_rss(items), FEED_URL, now=NOW).entries
    assert entry.published_at == datetime(2024, 2, 2, 12, tzinfo=UTC)


def test_summary_and_title_become_plain_text(entry_rules: ParsedFeed) -> None:
    entry = entry_rules.entries[-1]
    assert entry.title == "Summary with markup"
    assert entry.summary == "First para. Café & more"


def test_nul_and_controls_in_title_are_removed() -> None:
    items = "<item><title>Cease\x00fire\x01 talks</title><link>https://news.example.org/a</link></item>"
    feed = parse_feed(_rss(items), FEED_URL, now=NOW)
    assert feed.entries[0].title == "Ceasefire talks"
    assert feed.warning is not None  # a raw NUL makes the XML malformed: parsed, but said so


def test_malformed_feed_with_entries_keeps_a_warning() -> None:
    body = _rss("<item><title>A</title><link>https://news.example.org/a</link></item>")[:-20]
    feed = parse_feed(body, FEED_URL, now=NOW)
    assert [entry.link for entry in feed.entries] == ["https://news.example.org/a"]
    assert feed.warning and feed.warning.startswith("SAXParseException")


def test_missing_content_type_is_not_a_warning() -> None:
    feed = parse_feed(_rss("<item><link>https://news.example.org/a</link></item>"), FEED_URL, now=NOW)
    assert feed.warning is None


def test_whitespace_before_xml_declaration_is_parsed_strictly() -> None:
    feed = parse_feed(
        _fixture("leading_whitespace.rss"), FEED_URL, media_type="text/xml", charset="utf-8", now=NOW
    )
    assert feed.entries[0].title == "Still parsed strictly"
    assert feed.warning is None  # expat accepted it: the whitespace was removed, not tolerated


def test_bom_then_whitespace_is_parsed() -> None:
    body = b"\xef\xbb\xbf \n" + _rss("<item><title>é</title><link>https://news.example.org/a</link></item>")
    assert parse_feed(body, FEED_URL, now=NOW).entries[0].title == "é"


def test_raw_gzip_body_is_decompressed() -> None:
    body = gzip.compress(_rss("<item><title>Zipped</title><link>https://news.example.org/z</link></item>"))
    assert parse_feed(body, FEED_URL, media_type="application/rss+xml", now=NOW).entries[0].title == "Zipped"


def test_gzip_bomb_is_refused_at_the_cap() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (MAX_FEED_BYTES + 1))
    assert len(bomb) < MAX_FEED_BYTES // 100
    error = _refused(bomb)
    assert error.outcome == Outcome.PARSE_ERROR
    assert "over" in error.detail


def test_corrupt_gzip_is_a_parse_error() -> None:
    assert _refused(b"\x1f\x8b\x08\x00garbage-not-deflate").outcome == "parse_error"


def test_oversized_body_is_refused_before_parsing() -> None:
    assert _refused(b"<rss>" + b" " * MAX_FEED_BYTES).outcome == "parse_error"


def test_billion_laughs_is_refused() -> None:
    error = _refused(_fixture("billion_laughs.xml"))
    assert error.outcome == "parse_error"
    assert "entities" in error.detail


def test_external_entity_is_refused() -> None:
    assert _refused(_fixture("xxe.xml")).outcome == "parse_error"


def test_entity_declaration_in_utf16_is_refused() -> None:
    assert _refused(_fixture("billion_laughs.xml").decode().encode("utf-16")).outcome == "parse_error"


def test_netscape_doctype_without_entities_is_fine() -> None:
    prolog = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
    )
    feed = parse_feed(_rss("<item><link>https://news.example.org/a</link></item>", prolog), FEED_URL, now=NOW)
    assert len(feed.entries) == 1


def test_html_page_is_not_a_feed() -> None:
    error = _refused(_fixture("consent_page.html"), "text/html")
    assert error.outcome == Outcome.NOT_A_FEED


def test_well_formed_xml_of_another_kind_is_not_a_feed() -> None:
    assert _refused(b'<?xml version="1.0"?><catalog><book id="1"/></catalog>').outcome == "not_a_feed"


def test_truncated_feed_without_entries_is_a_parse_error() -> None:
    assert _refused(_rss("<item><title>cut")[:-30]).outcome == "parse_error"


def test_empty_well_formed_feed_is_a_feed() -> None:
    feed = parse_feed(_rss(""), FEED_URL, now=NOW)
    assert feed.entries == ()
    assert feed.title == "T"


def test_plain_text_and_binary_are_not_feeds() -> None:
    assert _refused(b"Service Unavailable").outcome == "not_a_feed"
    assert _refused(b"\x89PNG\r\n\x1a\n\x00\x00").outcome == "not_a_feed"
    assert _refused(b"").outcome == "not_a_feed"


def test_json_feed() -> None:
    feed = parse_feed(
        _fixture("feed.json"),
        "https://news.example.org/feed.json",
        media_type="application/feed+json",
        now=NOW,
    )
    assert feed.title == "A JSON Feed"
    assert feed.site_url == "https://news.example.org/"
    assert [(entry.guid, entry.link) for entry in feed.entries] == [
        ("1", "https://news.example.org/json/one"),
        ("2", "https://elsewhere.example.com/two"),  # external_url when url is absent
        ("3", "https://news.example.org/json/three"),  # relative url resolved
    ]
    assert feed.entries_without_link == 1
    assert feed.entries[0].summary == "Hello world"
    assert feed.entries[0].published_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert feed.entries[1].published_at == datetime(2024, 1, 16, 8, tzinfo=UTC)  # date_modified fallback


def test_json_feed_with_rfc822_dates() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "items": [
            {"id": "1", "url": "https://a.example/1", "date_published": "Fri, 31 May 2019 12:17:58 -0700"}
        ],
    }
    (entry,) = parse_feed(json.dumps(doc).encode(), FEED_URL, now=NOW).entries
    assert entry.published_at == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)


def test_other_json_is_not_a_feed() -> None:
    assert _refused(b'{"status": "ok", "articles": []}', "application/json").outcome == "not_a_feed"
    assert _refused(b'{"version": "2.0"}').outcome == "not_a_feed"


def test_broken_json_declared_as_json_feed_is_a_parse_error() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "items": ['
    assert _refused(body, "application/feed+json").outcome == "parse_error"


def test_deeply_nested_json_does_not_crash() -> None:
    assert _refused(b"{" + b'"a":[' * 100_000).outcome in {"parse_error", "not_a_feed"}


def test_http_charset_is_used_for_decoding() -> None:
    # No XML declaration: only the HTTP header says how to read these bytes.
    latin1 = _rss("<item><title>Grüße</title><link>https://news.example.org/a</link></item>", b"")
    latin1 = latin1.decode("utf-8").encode("iso-8859-1")
    feed = parse_feed(latin1, FEED_URL, media_type="application/rss+xml", charset="iso-8859-1", now=NOW)
    assert feed.entries[0].title == "Grüße"


def test_never_passes_a_path_to_feedparser(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(_rss("<item><title>local file</title><link>https://x.example/a</link></item>"))
    # feedparser.parse(bytes) would open a local file of that name; we hand it a stream.
    assert _refused(str(secret).encode()).outcome == "not_a_feed"


def test_an_entry_whose_link_cannot_be_keyed_counts_as_without_link_and_never_raises() -> None:
    # A port out of range made url_key raise inside parse_feed, which failed the whole run (review finding).
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>http://news.example:99999/a</link></item>"
        b"<item><title>b</title><link>http://[::1/b</link></item>"
        b"<item><title>c</title><link>https://news.example/c</link></item></channel></rss>"
    )
    parsed = parse_feed(body, "https://news.example/rss")
    assert [e.link for e in parsed.entries] == ["https://news.example/c"]
    assert parsed.entries_without_link == 2


# --- BOM in front of a JSON Feed ---------------------------------------------------------------------

_JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "BOM feed",
        "items": [{"id": "1", "url": "https://news.example.org/bom", "title": "Behind a BOM"}],
    }
).encode("utf-8")


@pytest.mark.parametrize(
    "prefix",
    [b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n\t", b"\n \xef\xbb\xbf", b" \n\xef\xbb\xbf\n "],
    ids=["bom", "bom-then-whitespace", "whitespace-then-bom", "whitespace-around-bom"],
)
def test_json_feed_behind_a_utf8_bom_is_read_as_a_json_feed(prefix: bytes) -> None:
    feed = parse_feed(prefix + _JSON_FEED, FEED_URL, media_type="application/feed+json", now=NOW)
    assert feed.title == "BOM feed"
    assert [(entry.link, entry.title) for entry in feed.entries] == [
        ("https://news.example.org/bom", "Behind a BOM")
    ]


def test_json_feed_behind_a_bom_without_content_type_is_still_a_json_feed() -> None:
    # No header to lean on: only the first byte after the BOM says "JSON".
    assert parse_feed(b"\xef\xbb\xbf" + _JSON_FEED, FEED_URL, now=NOW).title == "BOM feed"


def test_whitespace_before_the_bom_of_an_xml_feed_is_parsed_strictly() -> None:
    body = b"\r\n\xef\xbb\xbf" + _rss("<item><title>é</title><link>https://news.example.org/a</link></item>")
    feed = parse_feed(body, FEED_URL, media_type="application/rss+xml", now=NOW)
    assert feed.entries[0].title == "é"
    assert feed.warning is None  # the BOM went back in front of the declaration, where expat wants it


# --- counters of what was dropped --------------------------------------------------------------------


def _item(link: str, pub_date: str = "Mon, 15 Jan 2024 08:30:00 GMT") -> str:
    return f"<item><link>{link}</link><pubDate>{pub_date}</pubDate></item>"


def test_a_clean_feed_drops_nothing_and_counts_zero() -> None:
    feed = parse_feed(
        _rss(_item("https://news.example.org/a") + _item("https://news.example.org/b")), FEED_URL
    )
    assert (feed.entries_without_link, feed.entries_duplicate, feed.dates_nulled) == (0, 0, 0)


def test_entries_repeating_an_earlier_link_are_counted_as_duplicates() -> None:
    items = (
        _item("https://news.example.org/a")
        + _item("https://news.example.org/a?utm_source=rss#top")  # same url_key as the first
        + _item("https://news.example.org/b")
        + _item("https://news.example.org/a")
        + "<item><title>no link</title></item>"
    )
    feed = parse_feed(_rss(items), FEED_URL, now=NOW)
    assert [entry.link for entry in feed.entries] == [
        "https://news.example.org/a",
        "https://news.example.org/b",
    ]
    assert feed.entries_duplicate == 2
    assert feed.entries_without_link == 1  # counted apart: a missing link is not a duplicate


def test_duplicates_are_counted_in_json_feeds_too() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "items": [{"id": str(n), "url": "https://news.example.org/same"} for n in range(3)],
    }
    feed = parse_feed(json.dumps(doc).encode(), FEED_URL, now=NOW)
    assert (len(feed.entries), feed.entries_duplicate) == (1, 2)


def test_future_dates_dropped_are_counted() -> None:
    items = (
        _item("https://news.example.org/far", "Fri, 01 Mar 2024 00:00:00 GMT")  # a month ahead: nulled
        + _item("https://news.example.org/near", "Fri, 02 Feb 2024 12:00:00 GMT")  # within tolerance
        + _item("https://news.example.org/past", "Mon, 15 Jan 2024 08:30:00 GMT")
        + _item("https://news.example.org/later", "Sat, 01 Jan 2028 00:00:00 GMT")  # years ahead: nulled
    )
    feed = parse_feed(_rss(items), FEED_URL, now=NOW)
    assert [entry.published_at is None for entry in feed.entries] == [True, False, False, True]
    assert feed.dates_nulled == 2


def test_a_duplicate_with_a_future_date_counts_only_as_a_duplicate() -> None:
    # The duplicate is dropped whole: its date was never kept or nulled.
    items = _item("https://news.example.org/a") + _item(
        "https://news.example.org/a", "Sat, 01 Jan 2028 00:00:00 GMT"
    )
    feed = parse_feed(_rss(items), FEED_URL, now=NOW)
    assert (feed.entries_duplicate, feed.dates_nulled) == (1, 0)


def test_entry_rules_fixture_counts(entry_rules: ParsedFeed) -> None:
    assert (entry_rules.entries_duplicate, entry_rules.dates_nulled) == (1, 1)


@pytest.mark.parametrize("reference", ["&#xd800;", "&#xDFFF;", "&#55296;", "&#x110000;", "&#99999999999;"])
def test_a_reference_to_no_character_costs_one_title_not_the_feed(reference: str) -> None:
    items = (
        f"<item><title>bad {reference} title</title><link>https://a.example/1</link></item>"
        "<item><title>fine</title><link>https://a.example/2</link></item>"
    )
    parsed = parse_feed(_rss(items), FEED_URL, now=NOW)
    assert [e.title for e in parsed.entries] == ["bad \ufffd title", "fine"]
