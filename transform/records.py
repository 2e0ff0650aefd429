"""Typed, immutable records passed between stages. Datetimes are always UTC-aware."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    """One entity mentioned in an article: surface text, spaCy label, mentions, first character offset."""

    text: str
    label: str
    count: int
    first_offset: int


@dataclass(frozen=True, slots=True)
class TopicHit:
    """A topic assigned to an article, with a score in (0, 1] and the sentence that shows it."""

    topic: str
    score: float
    evidence: str


@dataclass(frozen=True, slots=True)
class Tagging:
    """What the tagger found in one text."""

    entities: tuple[EntityCount, ...] = ()
    topics: tuple[TopicHit, ...] = ()
    truncated: bool = False  # the text was longer than the tagger's limit and only its head was tagged
    tagger: str = ""  # pipeline name and version, plus taxonomy version: stored with every tag
