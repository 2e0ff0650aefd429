"""The feed registry: which feeds a run polls, kept in the database.

A feed enters from a feeds file (origin "file", synced on every run: feeds dropped from the file become
"unlisted", feeds that come back become "active" again), from `newsetl feeds add` (origin "cli"), or from
URLs given to one `newsetl run` (origin "adhoc", never polled by a schedule). The system never deletes a
feed: a dead one is only polled rarely (see transform/cadence.py), and a user may disable it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from newsetl.load.models import Feed, Source
from newsetl.load.store import feed_state, upsert_feeds
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import FeedSpec, FeedState

ACTIVE, UNLISTED, DISABLED = "active", "unlisted", "disabled"
REGISTERED_ORIGINS = ("file", "cli")  # origins a scheduled run polls


@dataclass(frozen=True, slots=True)
class Shard:
    """One of `count` stable partitions of the feeds, so workers share them without overlap."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'0/2' -> Shard(0, 2); a ConfigError with the rule when it is not of that form."""
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
            raise ConfigError(f"shard {text!r} must be I/N with 0 <= I < N, e.g. 0/2")
        return cls(int(index), int(count))

    def holds(self, url_key: str) -> bool:
        # The url_key is a sha256 hex digest: its leading bits are uniform and never change for a feed.
        return int(url_key[:8], 16) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class SyncResult:
    added: int
    reactivated: int
    unlisted: int


def sync_feed_file(session: Session, specs: Sequence[FeedSpec]) -> SyncResult:
    """Make the file's feeds active registry feeds, and unlist file feeds no longer in it."""
    keys = {spec.url_key for spec in specs}
    before = (
        {k for (k,) in session.execute(select(Feed.url_key).where(Feed.url_key.in_(keys)))} if keys else set()
    )
    upsert_feeds(session, specs, origin="file")
    adopt = update(Feed).where(Feed.url_key.in_(keys), Feed.origin == "adhoc").values(origin="file")
    session.execute(adopt)
    back = session.execute(
        update(Feed).where(Feed.url_key.in_(keys), Feed.status == UNLISTED).values(status=ACTIVE)
    ).rowcount
    gone = session.execute(
        update(Feed)
        .where(Feed.origin == "file", Feed.status == ACTIVE, Feed.url_key.not_in(keys))
        .values(status=UNLISTED)
    ).rowcount
    return SyncResult(added=len(keys - before), reactivated=back, unlisted=gone)


def add_feed(session: Session, spec: FeedSpec) -> FeedState:
    """Register a feed by hand (origin "cli"); a disabled or unlisted one becomes active again."""
    (state,) = upsert_feeds(session, [spec], origin="cli")
    session.execute(update(Feed).where(Feed.id == state.id).values(status=ACTIVE))
    session.execute(update(Feed).where(Feed.id == state.id, Feed.origin == "adhoc").values(origin="cli"))
    return state


def set_status(session: Session, url_key: str, status: str) -> bool:
    """Set a feed's status; False when no such feed is registered."""
    return session.execute(update(Feed).where(Feed.url_key == url_key).values(status=status)).rowcount > 0


def feeds_to_poll(session: Session, now: datetime, due_only: bool, shard: Shard | None) -> list[FeedState]:
    """Active registry feeds (due ones only, if asked), in this shard, oldest poll first."""
    query = select(Feed).where(Feed.status == ACTIVE, Feed.origin.in_(REGISTERED_ORIGINS))
    if due_only:
        query = query.where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
    feeds = session.scalars(query.order_by(Feed.last_polled_at.is_not(None), Feed.last_polled_at, Feed.id))
    return [feed_state(feed) for feed in feeds if shard is None or shard.holds(feed.url_key)]


@dataclass(frozen=True, slots=True)
class FeedListing:
    url: str
    source: str | None
    origin: str
    status: str
    next_poll_at: datetime | None
    failure_score: float


def list_feeds(session: Session) -> list[FeedListing]:
    query = select(Feed, Source.name).outerjoin(Source, Source.id == Feed.source_id).order_by(Feed.id)
    return [
        FeedListing(feed.url, source, feed.origin, feed.status, feed.next_poll_at, feed.failure_score)
        for feed, source in session.execute(query)
    ]
