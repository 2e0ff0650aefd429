"""Read-only queries behind `newsetl status`: the latest runs and the health of every feed, and the judgement
of both (is a feed broken, was a run killed).

Portable by construction: plain SELECTs that mean the same on SQLite and PostgreSQL. What the dialects do
differently (bucketing times into UTC days) is done in Python on the two columns fetched for it, never on
article rows or texts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, ScalarSelect, func, select
from sqlalchemy.orm import Session

from newsetl.load.models import Feed, FeedFetch, FeedItem, Run, RunLock, Source

DAY = timedelta(days=1)
# SQLite compares datetimes as text, and its server clock writes '2024-02-01 00:00:00' (no fraction), which
# sorts before the bound '2024-02-01 00:00:00.000000': a row seen at exactly midnight would be missed. The
# query therefore reaches this far before the window, and Python drops what lies outside it.
WINDOW_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RunRow:
    """One ingest run as `newsetl status` shows it."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, Any]
    parameters: dict[str, Any]
    # When the run's lock lease ends, if it holds one: a live run renews it, a killed one lets it lapse.
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How one feed has been doing: its polls, and the new articles it listed per UTC day."""

    feed_id: int
    url: str
    source: str | None
    status: str
    origin: str
    last_success_at: datetime | None
    last_polled_at: datetime | None
    last_outcome: str | None  # the outcome of the feed's latest poll (feed_fetches row)
    failure_score: float
    next_poll_at: datetime | None
    daily_new: tuple[int, ...]  # articles first listed by this feed per UTC day, oldest first, ending today
    # The last days of the window on which the feed existed (None: all): a feed added yesterday has not
    # been silent for four weeks.
    tracked_days: int | None = None

    @property
    def _tracked(self) -> tuple[int, ...]:
        return self.daily_new[-self.tracked_days :] if self.tracked_days else self.daily_new

    @property
    def articles_per_day(self) -> float:
        return sum(self._tracked) / len(self._tracked) if self._tracked else 0.0

    @property
    def silent_days(self) -> int:
        return sum(1 for count in self._tracked if count == 0)


def recent_runs(session: Session, limit: int = 10) -> list[RunRow]:
    """The latest `limit` runs, newest first, with the expiry of the lock lease each still holds."""
    lease = select(func.max(RunLock.expires_at)).where(RunLock.run_id == Run.id).correlate(Run)
    columns = (Run.id, Run.started_at, Run.finished_at, Run.status, Run.counts, Run.parameters)
    query = select(*columns, lease.scalar_subquery()).order_by(Run.started_at.desc(), Run.id.desc())
    return [
        RunRow(run_id, started, finished, status, dict(counts or {}), dict(parameters or {}), expires)
        for run_id, started, finished, status, counts, parameters, expires in session.execute(
            query.limit(limit)
        )
    ]


def feed_health(session: Session, now: datetime, days: int = 28) -> list[FeedHealth]:
    """Every feed's health over the `days` UTC days ending on `now`'s day; worst first: highest failure
    score, then the oldest last success (never is oldest). Two queries, whatever the number of feeds."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    start = window_start(now, days)
    daily = daily_new_by_feed(session, start, days)
    health = [
        _health(row, daily.get(row.id, (0,) * days), _days_since(row.created_at, start, days))
        for row in session.execute(_feeds_query())
    ]
    return sorted(health, key=_worst_first)


def _days_since(created_at: datetime | None, start: datetime, days: int) -> int:
    """How many of the window's `days` days, counted back from the last, the feed existed on (at least 1)."""
    if created_at is None or created_at <= start:
        return days
    return max(days - (created_at - start) // DAY, 1)


def window_start(now: datetime, days: int) -> datetime:
    """Midnight UTC of the first of the `days` days that end on `now`'s UTC day."""
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - (days - 1) * DAY


def daily_new_by_feed(session: Session, start: datetime, days: int) -> dict[int, tuple[int, ...]]:
    """feed id -> feed_items first seen per UTC day from `start`, oldest first. Feeds with none are absent.

    A row stamped after the last day (a database clock ahead of `now`) counts on the last day."""
    query = select(FeedItem.feed_id, FeedItem.first_seen_at).where(
        FeedItem.first_seen_at >= start - WINDOW_MARGIN
    )
    return _bucket(session.execute(query), start, days)


def _bucket(rows: Iterable[tuple[int, datetime]], start: datetime, days: int) -> dict[int, tuple[int, ...]]:
    counts: defaultdict[int, list[int]] = defaultdict(lambda: [0] * days)
    for feed_id, seen in rows:
        if seen >= start:
            counts[feed_id][min((seen - start) // DAY, days - 1)] += 1
    return {feed_id: tuple(per_day) for feed_id, per_day in counts.items()}


def _latest_outcome() -> ScalarSelect[str]:
    """The feed's latest poll outcome; the id breaks ties (PostgreSQL's now() is per transaction)."""
    latest = select(FeedFetch.outcome).where(FeedFetch.feed_id == Feed.id)
    latest = latest.order_by(FeedFetch.fetched_at.desc(), FeedFetch.id.desc()).limit(1)
    return latest.correlate(Feed).scalar_subquery()


def _feeds_query() -> Any:
    return select(
        Feed.id,
        Feed.url,
        Source.name.label("source"),
        Feed.status,
        Feed.origin,
        Feed.last_success_at,
        Feed.last_polled_at,
        _latest_outcome().label("last_outcome"),
        Feed.failure_score,
        Feed.next_poll_at,
        Feed.created_at,
    ).outerjoin(Source, Source.id == Feed.source_id)


def _health(row: Row[Any], daily_new: tuple[int, ...], tracked_days: int) -> FeedHealth:
    return FeedHealth(
        feed_id=row.id,
        url=row.url,
        source=row.source,
        status=row.status,
        origin=row.origin,
        last_success_at=row.last_success_at,
        last_polled_at=row.last_polled_at,
        last_outcome=row.last_outcome,
        failure_score=float(row.failure_score or 0.0),
        next_poll_at=row.next_poll_at,
        daily_new=daily_new,
        tracked_days=tracked_days,
    )


def _worst_first(health: FeedHealth) -> tuple[float, datetime, int]:
    never = datetime.min.replace(tzinfo=UTC)
    return (-health.failure_score, health.last_success_at or never, health.feed_id)


# --- judgements on what the queries return ------------------------------------------------------------

# A failure score this high means at least one whole failed poll since the last success (partial failures
# add fractions), so the feed needs a look.
BROKEN_SCORE = 1.0
# Polled, yet no successful poll for this long: broken, not merely quiet (outlets publish daily).
BROKEN_AFTER = timedelta(days=2)
# An unfinished run that holds no lock lease (an ad-hoc run, or one whose lapsed lease a later run took) is
# taken for killed once this old: far longer than a run of the bundled feeds takes.
STALE_RUN_AFTER = timedelta(hours=6)


def is_broken(health: FeedHealth, now: datetime) -> bool:
    """Failing by score, or polled since its last success (or never succeeded) for BROKEN_AFTER or longer;
    a never-successful feed counts from its first failed poll on."""
    if health.failure_score >= BROKEN_SCORE:
        return True
    if health.last_polled_at is None:
        return False
    if health.last_success_at is None:
        return True
    failing_since_success = health.last_polled_at > health.last_success_at
    return failing_since_success and now - health.last_success_at >= BROKEN_AFTER


def run_state(run: RunRow, now: datetime) -> str:
    """The run's status; an unfinished run is "running" while its lock lease holds (or, holding none, while
    younger than STALE_RUN_AFTER), else "killed?"."""
    if run.finished_at is not None:
        return run.status
    if run.lease_expires_at is not None:
        return "running" if run.lease_expires_at > now else "killed?"
    return "running" if now - run.started_at < STALE_RUN_AFTER else "killed?"
