"""What load/ is handed: plain, typed records built by flows/ from fetch and transform results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsetl.transform.records import ExtractedArticle, Tagging


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A feed as the user listed it."""

    url: str
    url_key: str
    source: str | None = None
    source_domain: str | None = None


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
    outcome: str
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
    # When to poll next (set by flows' cadence policy; None leaves the stored values alone).
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
    outcome: str
    http_status: int | None
    duration_ms: int
    listings: tuple[Listing, ...]
    final_url: str | None = None
    fetched_at: datetime | None = None
    article: ExtractedArticle | None = None
    tagging: Tagging | None = None
    detail: str | None = None
    encoding: str | None = None  # what the page's bytes were decoded with


@dataclass(frozen=True, slots=True)
class KnownArticle:
    id: int
    outcome: str
    attempts: int


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one loaded batch added."""

    articles_new: int = 0
    articles_failed: int = 0
    entities_tagged: int = 0
    topics_tagged: int = 0
    articles_stored_elsewhere: int = 0  # ok here, but a concurrent run had stored the article already
    articles_deferred: int = 0  # not requested: the host asked us to wait, or its run budget was spent
    articles_refused: int = 0  # the database refused the row; stored as load_error instead
    outcomes: tuple[tuple[str, int], ...] = ()  # page outcomes as stored, load_error included
