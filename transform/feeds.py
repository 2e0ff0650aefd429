"""Feed bytes -> `ParsedFeed`: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.0/1.1 by hand.

Pure: bytes in, records out. feedparser only ever receives a `BytesIO` of bytes we were handed (given a
str or bytes it may fetch a URL or open a local file), and its dicts never leave
this module.

Errors (both permanent: record the outcome, move on, retrying the same bytes gives the same answer):

    FeedParseError(outcome="not_a_feed")   HTML (bot wall, consent page, home page), JSON that is not a
                                           JSON Feed, well-formed XML of another kind, anything else
                                           without a single feed element in it.
    FeedParseError(outcome="parse_error")  a feed we refuse or cannot read: body over MAX_FEED_BYTES,
                                           corrupt gzip, a DOCTYPE declaring entities (entity expansion
                                           bombs, XXE), XML or JSON that looked like
                                           a feed but yielded nothing.

A feed that is malformed but still yields entries is returned, with `warning` saying what was wrong.

Entry rules:
- link: the first http(s) link among the entry's alternate links, resolved against the feed URL;
  entries without one are counted in `entries_without_link` and dropped (nothing to fetch).
- duplicate links within one feed (compared by `url_key`) are kept once, the first wins; the others are
  counted in `entries_duplicate`. GUIDs are not used to merge: a duplicate GUID with a different link is
  still a different page to fetch.
- published_at: published, else updated, in UTC. A date more than FUTURE_TOLERANCE ahead of `now` is
  dropped (None) and counted in `dates_nulled`: a publisher's clock or time-zone error must not put an
  article in the future, where it would sort first in every "latest coverage" query for days.
- title and summary: plain text (tags stripped, entities decoded, whitespace collapsed), `clean_text`ed.

The counters exist so a feed that silently loses most of its entries or dates can be told apart from a
quiet feed.

A UTF-8 BOM, with or without whitespace around it, is no obstacle: it stays in front of XML (the XML
parser reads it as the encoding signature) and is dropped before JSON (JSON text must not carry one).
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

from newsetl.extract.records import HTML_MEDIA_TYPES, SNIFF_BYTES, Outcome
from newsetl.transform.errors import InputError
from newsetl.transform.records import FeedEntry, ParsedFeed
from newsetl.transform.text import clean_text, parse_date, to_utc
from newsetl.transform.urls import resolve_link, url_key

# Largest body we parse, compressed or after decompression. extract/ caps a fetched feed at about 5 MB;
# 20 MB leaves room for a raw-gzip body that decompresses larger, while bounding memory and parse time
# (feedparser holds the whole document several times over).
MAX_FEED_BYTES = 20 * 1024 * 1024
# How far ahead of "now" a published date may be: covers time-zone mistakes (up to 14 h) and an
# embargoed item published a day early; beyond that the date is wrong, not early.
FUTURE_TOLERANCE = timedelta(days=2)
# Longest warning kept: enough for the parser's message and position, short enough for a log line.
_MAX_WARNING_CHARS = 200

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = zlib.MAX_WBITS | 16  # zlib: expect a gzip header and trailer
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# Numeric character references, with digits enough to name numbers past any code point.
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,24}));")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_MARKERS = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_JSON_FEED_TYPES = frozenset({"application/feed+json", "application/json"})
_JSON_FEED_VERSION = "jsonfeed.org/version/"
_ALTERNATE_RELS = frozenset({"", "alternate"})
# Tags that end a block become a space ("<p>a</p><p>b</p>" -> "a b"); inline ones vanish ("<em>x</em>.").
_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|figure|hr)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
# Bozo complaints about the HTTP header rather than the document: not worth a warning.
_HEADER_ONLY_COMPLAINTS = (NonXMLContentType,)
# Complaints that say nothing about the document's structure: an empty feed with them is still a feed.
_NOT_MALFORMED = (NonXMLContentType, CharacterEncodingOverride)


class FeedParseError(InputError):
    """A feed body that yields no feed. `outcome` is not_a_feed or parse_error; `detail` says why."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail, outcome)


@dataclass(frozen=True, slots=True)
class _RawEntry:
    """An entry as either parser saw it, before links are resolved and text is cleaned."""

    links: tuple[str, ...]
    guid: str | None
    title: str | None
    title_is_html: bool
    summary: str | None
    summary_is_html: bool
    published: datetime | time.struct_time | None


@dataclass(frozen=True, slots=True)
class _RawFeed:
    title: str | None
    site_link: str | None
    entries: tuple[_RawEntry, ...]
    warning: str | None = None


def parse_feed(
    body: bytes,
    url: str,
    *,
    media_type: str | None = None,
    charset: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse a fetched feed body. `url` is the feed's (final) URL, the base for relative links.

    `media_type` and `charset` are the HTTP Content-Type as extract/ parsed it (FetchResult.content_type,
    .charset): feedparser gives the HTTP charset precedence over the XML declaration, falling back when
    the bytes do not decode. `now` (UTC) is for the future-date rule; it defaults to the current time.
    """
    data = _prepare(body)
    if data.startswith(b"{"):
        raw = _read_json_feed(data, media_type)
    else:
        raw = _read_xml_feed(data, url, media_type, charset)
    return _build(raw, url, now or datetime.now(UTC))


# --- bytes before parsing ---------------------------------------------------------------------------


def _prepare(body: bytes) -> bytes:
    """Size cap, raw gzip, leading whitespace and BOM, entity declarations: all before any parser runs."""
    _check_size(len(body))
    data = _gunzip(body) if body.startswith(_GZIP_MAGIC) else body
    data = _strip_leading_space(data)
    if _declares_entities(data):
        raise FeedParseError(Outcome.PARSE_ERROR, "DOCTYPE declares entities (expansion bomb / XXE risk)")
    return _CHAR_REF.sub(_replace_impossible_char_ref, data)


def _replace_impossible_char_ref(match: re.Match[bytes]) -> bytes:
    """A character reference to no character (a lone surrogate, past U+10FFFF) becomes U+FFFD: expat refuses
    it, and feedparser's fallback parser then raises on it, which would lose every entry of the feed."""
    hexadecimal, decimal = match.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > sys.maxunicode else match.group()


def _check_size(size: int) -> None:
    if size > MAX_FEED_BYTES:
        raise FeedParseError(Outcome.PARSE_ERROR, f"feed body over {MAX_FEED_BYTES} bytes")


def _gunzip(body: bytes) -> bytes:
    """Decompress a gzip body served without Content-Encoding, never past MAX_FEED_BYTES (gzip bombs).

    A truncated stream gives what decompressed so far: the parser then keeps what it can read.
    """
    inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        data = inflater.decompress(body, MAX_FEED_BYTES + 1)
    except zlib.error as exc:
        raise FeedParseError(Outcome.PARSE_ERROR, f"corrupt gzip body: {exc}") from exc
    _check_size(len(data))
    return data


def _strip_leading_space(data: bytes) -> bytes:
    """Drop whitespace before the first `<` or `{`: expat refuses an XML declaration that is not at the
    very start, which would send a good feed to the sloppier parser.

    A UTF-8 BOM among that whitespace is kept in front of XML, where it names the encoding, and dropped
    before JSON, which must start with `{` to be recognised at all.
    """
    has_bom, rest = _split_utf8_bom(data)
    if rest.startswith(b"{"):
        return rest
    if rest.startswith(b"<"):
        return (_UTF8_BOM if has_bom else b"") + rest
    return data  # leave it: UTF-16 without BOM, binary, plain text


def _split_utf8_bom(data: bytes) -> tuple[bool, bytes]:
    """Whether a UTF-8 BOM leads `data` (whitespace before it allowed), and what follows, whitespace
    stripped. Servers that prepend a newline to every response put one before the BOM too."""
    rest = data.lstrip()
    has_bom = rest.startswith(_UTF8_BOM)
    if has_bom:
        rest = rest[len(_UTF8_BOM) :].lstrip()
    return has_bom, rest


def _declares_entities(data: bytes) -> bool:
    """True when the body has a DOCTYPE and an entity declaration anywhere.

    Coarse on purpose: a feed quoting `<!ENTITY` in a CDATA section *and* carrying a DOCTYPE is refused
    too, which no real news feed does. UTF-16/32 bodies are scanned with their NUL bytes removed, so
    the ASCII markup is contiguous.
    """
    if data.startswith(_UTF16_BOMS) or b"\x00" in data[:4]:
        data = data.replace(b"\x00", b"")
    return bool(_DOCTYPE.search(data)) and bool(_ENTITY_DECL.search(data))


# --- XML feeds through feedparser -------------------------------------------------------------------


def _read_xml_feed(data: bytes, url: str, media_type: str | None, charset: str | None) -> _RawFeed:
    result = _run_feedparser(data, url, media_type, charset)
    entries = tuple(_xml_entry(entry) for entry in result.get("entries", ()))
    exc = result.get("bozo_exception") if result.get("bozo") else None
    if not entries:
        _refuse_if_empty(data, result.get("version") or "", exc)
    feed = result.get("feed", {})
    return _RawFeed(
        title=_as_str(feed.get("title")),
        site_link=_as_str(feed.get("link")),
        entries=entries,
        warning=_warning(exc),
    )


def _run_feedparser(data: bytes, url: str, media_type: str | None, charset: str | None) -> Mapping[str, Any]:
    headers = {"content-location": url}  # base for xml:base and relative links
    if media_type:
        # feedparser reads the HTTP charset only from a header, so the parsed one is written back as one.
        headers["content-type"] = f"{media_type}; charset={charset}" if charset else media_type
    try:
        # BytesIO, never bytes/str: feedparser would treat those as a URL or a local path to open.
        # resolve_relative_uris only rewrites links inside HTML content, which we reduce to text anyway.
        return feedparser.parse(io.BytesIO(data), response_headers=headers, resolve_relative_uris=False)
    except Exception as exc:
        # feedparser is meant to report problems via `bozo`; anything it raises on hostile bytes is
        # still "this feed could not be parsed", not a reason to fail the whole run.
        raise FeedParseError(Outcome.PARSE_ERROR, f"feedparser raised {type(exc).__name__}") from exc


def _refuse_if_empty(data: bytes, version: str, exc: BaseException | None) -> None:
    """Zero entries: decide between an empty feed, not_a_feed and parse_error."""
    malformed = exc is not None and not isinstance(exc, _NOT_MALFORMED)
    head = data[:SNIFF_BYTES]  # HTML / XML markers are looked for where extract/ sniffs pages
    if version and not malformed:
        return  # a well-formed feed that happens to be empty
    if version:
        raise FeedParseError(Outcome.PARSE_ERROR, f"no entries in a malformed {version} feed: {exc}")
    if _HTML_MARKERS.search(head):
        raise FeedParseError(Outcome.NOT_A_FEED, "an HTML page, not a feed")
    if malformed and head.lstrip(_UTF8_BOM).startswith(b"<?xml"):
        raise FeedParseError(Outcome.PARSE_ERROR, f"malformed XML without a feed in it: {exc}")
    raise FeedParseError(Outcome.NOT_A_FEED, "no RSS, Atom or RDF feed element")


def _warning(exc: BaseException | None) -> str | None:
    if exc is None or isinstance(exc, _HEADER_ONLY_COMPLAINTS):
        return None
    return f"{type(exc).__name__}: {exc}"[:_MAX_WARNING_CHARS]


def _xml_entry(entry: Mapping[str, Any]) -> _RawEntry:
    return _RawEntry(
        links=tuple(_xml_links(entry)),
        guid=_as_str(entry.get("id")),
        title=_as_str(entry.get("title")),
        title_is_html=_is_html_detail(entry.get("title_detail")),
        summary=_as_str(entry.get("summary")),
        summary_is_html=_is_html_detail(entry.get("summary_detail")),
        # dict.get, not FeedParserDict.get: the latter maps a missing updated_parsed to published_parsed
        # with a DeprecationWarning (feedparser issue 310), and we want each key for what it is.
        published=dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"),
    )


def _xml_links(entry: Mapping[str, Any]) -> Iterator[str]:
    """feedparser's chosen `link` first, then every alternate link (Atom may list a tag: URI first)."""
    link = _as_str(entry.get("link"))
    if link:
        yield link
    for candidate in entry.get("links") or ():
        href = _as_str(candidate.get("href"))
        if href and (_as_str(candidate.get("rel")) or "") in _ALTERNATE_RELS:
            yield href


def _is_html_detail(detail: Mapping[str, Any] | None) -> bool:
    return bool(detail) and _as_str(detail.get("type")) in HTML_MEDIA_TYPES


# --- JSON Feed (https://jsonfeed.org) ---------------------------------------------------------------


def _read_json_feed(data: bytes, media_type: str | None) -> _RawFeed:
    doc = _load_json(data, media_type)
    version = doc.get("version") if isinstance(doc, dict) else None
    if not (isinstance(version, str) and _JSON_FEED_VERSION in version):
        raise FeedParseError(Outcome.NOT_A_FEED, "JSON that is not a JSON Feed")
    items = doc.get("items")
    has_items = isinstance(items, list)  # required by the spec; missing means an empty feed, said so
    return _RawFeed(
        title=_as_str(doc.get("title")),
        site_link=_as_str(doc.get("home_page_url")),
        entries=tuple(_json_entry(item) for item in (items if has_items else ()) if isinstance(item, dict)),
        warning=None if has_items else "JSON Feed without an items list",
    )


def _load_json(data: bytes, media_type: str | None) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        declared = media_type in _JSON_FEED_TYPES
        outcome = Outcome.PARSE_ERROR if declared else Outcome.NOT_A_FEED
        raise FeedParseError(outcome, f"invalid JSON: {type(exc).__name__}") from exc


def _json_entry(item: Mapping[str, Any]) -> _RawEntry:
    summary = _as_str(item.get("summary")) or _as_str(item.get("content_text"))
    html_content = _as_str(item.get("content_html"))
    published = _json_datetime(item.get("date_published")) or _json_datetime(item.get("date_modified"))
    return _RawEntry(
        # `url` is the item's own page; `external_url` the page it is about: a fallback only.
        links=tuple(link for link in (item.get("url"), item.get("external_url")) if isinstance(link, str)),
        guid=_json_id(item.get("id")),
        title=_as_str(item.get("title")),
        title_is_html=False,
        summary=summary or html_content,
        summary_is_html=summary is None and html_content is not None,
        published=published,
    )


def _json_id(value: object) -> str | None:
    """The spec says string; numbers are common in the wild and just as unique."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _as_str(value)


def _json_datetime(value: object) -> datetime | None:
    """A JSON Feed date: RFC 3339 as the spec requires, or the RSS form some generators put there."""
    return parse_date(_as_str(value))


# --- records ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """What building the entries dropped, entry by entry; becomes the counters of `ParsedFeed`."""

    without_link: int = 0
    duplicate: int = 0
    dates_nulled: int = 0


def _build(raw: _RawFeed, url: str, now: datetime) -> ParsedFeed:
    tally = _Tally()
    entries = _entries(raw.entries, url, now, tally)
    return ParsedFeed(
        title=_plain(raw.title, is_html=False),
        site_url=resolve_link(raw.site_link or "", url),
        entries=entries,
        entries_without_link=tally.without_link,
        entries_duplicate=tally.duplicate,
        dates_nulled=tally.dates_nulled,
        warning=raw.warning,
    )


def _entries(raws: Iterable[_RawEntry], base: str, now: datetime, tally: _Tally) -> tuple[FeedEntry, ...]:
    """Resolved, deduplicated entries (first link wins); what is dropped is counted in `tally`."""
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for raw in raws:
        link = _first_web_link(raw.links, base)
        if link is None:
            tally.without_link += 1
            continue
        key = url_key(link)
        if key in seen:
            tally.duplicate += 1
            continue
        seen.add(key)
        entries.append(_entry(raw, link, now, tally))
    return tuple(entries)


def _first_web_link(links: Iterable[str], base: str) -> str | None:
    for link in links:
        resolved = resolve_link(link, base)
        if resolved is not None:
            return resolved
    return None


def _entry(raw: _RawEntry, link: str, now: datetime, tally: _Tally) -> FeedEntry:
    return FeedEntry(
        link=link,
        guid=clean_text(raw.guid),
        title=_plain(raw.title, is_html=raw.title_is_html),
        summary=_plain(raw.summary, is_html=raw.summary_is_html),
        published_at=_not_in_future(to_utc(raw.published), now, tally),
    )


def _not_in_future(published: datetime | None, now: datetime, tally: _Tally) -> datetime | None:
    """`published`, or None (counted in `tally`) when it lies more than FUTURE_TOLERANCE past `now`."""
    if published is not None and published > now + FUTURE_TOLERANCE:
        tally.dates_nulled += 1
        return None
    return published


def _plain(text: str | None, *, is_html: bool) -> str | None:
    """One line of plain text. Tags go by regex, not a parser: feedparser has already sanitised the
    HTML, and a summary is a teaser, not the article (trafilatura extracts that from the page)."""
    if text is None:
        return None
    if is_html:
        text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", text)))
    return clean_text(_SPACES.sub(" ", text))


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
