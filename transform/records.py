"""Typed, immutable records passed between stages, and the one vocabulary of outcomes. Datetimes are always
UTC-aware.

Outcome (the closed set a feed poll or page fetch ends in) is defined by extract/, where fetches end, and
re-exported here: of the layers below it, load/ imports only this module and transform.errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from newsetl.extract.records import LONE_SURROGATE, URL_UNSAFE
from newsetl.extract.records import NOT_REQUESTED as NOT_REQUESTED
from newsetl.extract.records import Outcome as Outcome

# What a string in a record may hold. PostgreSQL refuses NUL in text, and lone surrogates cannot be encoded
# as UTF-8 at all (both database drivers and the JSON-lines commands raise). `storable` is the one
# definition of a string that reaches either database, or a JSON line, the same way: load/ applies it to
# every text column whatever field the string came from, so a new field cannot forget it.
#
# C0 controls other than \t and \n: invisible, illegal in XML 1.0, NUL is refused by PostgreSQL.
# \r is not here because line endings are normalised to \n before this runs.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")
# Lone surrogates (extract.records.LONE_SURROGATE) make a database driver raise; U+FFFD keeps a visible
# mark of the damage. A link's unsafe characters (extract.records.URL_UNSAFE) are percent-encoded instead.
_REPLACEMENT = "\ufffd"


def storable(value: str) -> str:
    """`value` as both databases store and return it unchanged: \\r\\n and lone \\r become \\n, other C0
    controls but \\t and \\n are removed, lone surrogates become U+FFFD. Nothing else changes (no strip),
    so clean text passes through untouched. Idempotent."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return LONE_SURROGATE.sub(_REPLACEMENT, _CONTROLS.sub("", text))


def escape_url(url: str) -> str:
    """A link as both databases can store it: controls and lone surrogates percent-encoded
    (as a browser would send them), so the stored form still shows what the feed gave, byte for byte.
    Such a link is never fetched (extract/ refuses it as bad_url); this is only how it is recorded."""
    return URL_UNSAFE.sub(_percent_encode, url)


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a feed, with its link resolved against the feed URL."""

    link: str  # absolute http(s) URL
    guid: str | None
    title: str | None
    summary: str | None
    published_at: datetime | None  # UTC-aware; None when absent or unparsable


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed. `warning` keeps what the parser complained about while still yielding entries."""

    title: str | None
    site_url: str | None
    entries: tuple[FeedEntry, ...]
    entries_without_link: int = 0  # skipped: nothing to fetch
    entries_duplicate: int = 0  # skipped: same url_key as an earlier entry of this feed
    dates_nulled: int = 0  # kept, but published_at set to None: too far in the future to be true
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """Text and metadata trafilatura found in one page."""

    title: str | None
    text: str
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None
    canonical_url: str | None


@dataclass(frozen=True, slots=True)
class EntityCount:
    """One entity mentioned in an article, its mentions merged: the name it resolved to (the article's
    fullest form, or the aliases file's canonical name), its label by majority over the mentions, the
    number of mentions, the first mention's character offset, and each surface form as written (cleaned)
    with its count, so that every resolution can be undone."""

    text: str
    label: str
    count: int
    first_offset: int
    surfaces: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """One line of the aliases file: a surface form ("IDF") and the canonical entity it names ("Israel
    Defense Forces", ORG). The database's alias table is seeded from these."""

    alias: str
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class TopicHit:
    """A topic scored on an article: a score in (0, 1], the sentence that shows it, and whether the score
    passed the taxonomy's threshold (a hit under it is kept when a strong term matched, so that a reader
    can trade precision for recall at query time)."""

    topic: str
    score: float
    evidence: str
    passed: bool = True


@dataclass(frozen=True, slots=True)
class Tagging:
    """What the tagger found in one text."""

    entities: tuple[EntityCount, ...] = ()
    topics: tuple[TopicHit, ...] = ()
    truncated: bool = False  # the text was longer than the tagger's limit and only its head was tagged
    tagger: str = ""  # the tagger version (pipeline, taxonomy, aliases, rules): stored with every tag


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A feed as the user listed it."""

    url: str
    url_key: str
    source: str | None = None
    source_domain: str | None = None  # the registrable domain of a named source's feed


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed row as the poller needs it."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    poll_interval_seconds: int | None = None
    failure_score: float = 0.0
    last_full_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """How one poll of one feed ended; validators and body hash are kept only when it succeeded."""

    feed_id: int
    outcome: Outcome
    http_status: int | None
    duration_ms: int
    entries_seen: int = 0
    entries_new: int = 0
    entries_without_link: int = 0
    entries_duplicate: int = 0
    dates_nulled: int = 0
    full_poll: bool = False  # sent without validators and judged on its entries, not on its body hash
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    detail: str | None = None
    # When to poll next (set by the cadence policy, transform.cadence; None leaves the stored values alone).
    poll_interval_seconds: int | None = None
    failure_score: float | None = None
    next_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """A feed listing an article."""

    feed_id: int
    guid: str | None


@dataclass(frozen=True, slots=True)
class PageResult:
    """One page fetch and what became of it: an article with tags when `outcome` is 'ok'."""

    url_key: str
    url: str
    outcome: Outcome
    http_status: int | None
    duration_ms: int
    listings: tuple[Listing, ...]
    final_url: str | None = None
    fetched_at: datetime | None = None
    article: ExtractedArticle | None = None
    tagging: Tagging | None = None
    detail: str | None = None
    encoding: str | None = None  # what the page's bytes were decoded with
    # The registrable domain of the page (after redirects): its outlet when no feed listing it names one.
    outlet_domain: str | None = None


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """An article already stored: how its last fetch ended, after how many attempts."""

    id: int
    outcome: Outcome
    attempts: int
