"""When to poll a feed next: adaptive interval, scored failures, linear backoff, Retry-After, jitter.

Pure computation, called once per stored feed poll: no database, network, clock or environment. The caller
passes `now` and a `random.Random`, and stores the returned `Cadence` in `feeds.poll_interval_seconds`,
`feeds.failure_score` and `feeds.next_poll_at`.

The rules (after mediacloud/rss-fetcher, whose ~180,000 news feeds taught that "dead" feeds often return):

* **Interval.** Each feed keeps its own interval in [MIN_INTERVAL, MAX_INTERVAL], DEFAULT_INTERVAL when new.
  A successful poll where most entries are new shortens it (we may be missing entries that scrolled out of
  the feed); one where most are already known, or `not_modified`, lengthens it. Failures leave it alone.
* **Failure score.** `ok` and `not_modified` reset it to 0; every other outcome adds its weight (table).
* **Linear backoff.** After a failure the delay is BACKOFF_STEP x score, never shorter than the feed's
  interval and never longer than MAX_BACKOFF: a feed is never deleted by the system, only polled rarely,
  once a month at worst.
* **Retry-After.** The next poll is no earlier than now + Retry-After (cut to MAX_RETRY_AFTER).
* **Not polled.** A poll never made says nothing about the feed: `deferred` (its host asked every run to
  wait, Retry-After) or `skipped` (another feed of its host timed out in this run). Interval and failure
  score stay; the next poll is one interval away, or when the host's wait ends if that is later.
* **Jitter.** Every delay gets up to +MAX_JITTER_FRACTION of itself, so feeds polled together drift apart;
  near MAX_BACKOFF it is taken off instead, so the cap holds and capped feeds drift apart too.

Outcome weights (labels are `extract.records.Outcome` values):

| weight           | outcomes                                                                  | why    |
|------------------|---------------------------------------------------------------------------|--------|
| 0 (success)      | ok, not_modified                                                          | resets |
| 0 (no poll)      | deferred, skipped                                                         | keeps  |
| 1 (hard)         | gone, not_a_feed, not_html, parse_error, bad_url, ssrf_blocked,           | (a)    |
|                  | tls_error, too_many_redirects                                             |        |
| 0.5 (soft)       | client_error, too_large, bad_encoding, robots_disallowed                  | (b)    |
| 0.25 (temporary) | timeout, connect_error, server_error, rate_limited, truncated,            | (c)    |
|                  | extract_empty, extract_timeout, and any label not in this table           |        |

(a) The URL, or what it serves, is wrong; only a change on the publisher's side fixes it.
(b) Probably a configuration or policy on their side (403, oversize body, robots.txt) that may be lifted.
(c) The network or the server hiccuped; the next poll likely succeeds. `extract_empty` and `extract_timeout`
    are page outcomes that a feed poll never ends in; should one appear it says nothing about the feed.
    An unknown label is our bug or a newer outcome, not evidence against the feed, so it gets the
    smallest weight: being wrong then costs a few extra polls, not a feed pushed out to monthly polling
    (and the label is still stored in `feed_polls` for someone to notice).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsetl.extract.records import NOT_REQUESTED, Outcome

# Fastest cadence: a feed lists its last 10-100 entries, so few publish fast enough to scroll one out
# unseen within 10 minutes, and polling faster mostly costs the publisher bandwidth.
MIN_INTERVAL = timedelta(minutes=10)
# Slowest healthy cadence: a feed that publishes at all is looked at daily.
MAX_INTERVAL = timedelta(hours=24)
# A new feed's interval, before its own history says anything (same as the column's server default).
DEFAULT_INTERVAL = timedelta(minutes=30)
# Backoff ceiling: a failing feed is never deleted by the system, only polled once a month at worst.
MAX_BACKOFF = timedelta(days=30)
# Upstream already caps Retry-After; cut again so a bad value can never push a healthy feed past a day.
MAX_RETRY_AFTER = timedelta(days=1)

# Backoff delay per point of failure score. Half a day means one hard failure costs at most two polls a
# day and a weekend outage (a few 0.25 timeouts) costs hours, not days; a dead feed is polled about every
# two weeks after six months and reaches the monthly cap after 60 hard failures (about 2.5 years).
BACKOFF_STEP = timedelta(hours=12)
# Fraction of new entries above which the feed is "mostly new" (shorten) and below which "mostly known".
MOSTLY_NEW = 0.5
# Halve when mostly new: entries may be scrolling out unseen, so react fast (24 h to 10 min in 8 polls).
SHORTEN_FACTOR = 0.5
# Lengthen gently when mostly known: a quiet spell should not cost a busy feed its cadence (30 min to 24 h
# in about 17 polls, roughly five days).
LENGTHEN_FACTOR = 1.25
# Jitter is uniform in [0, this x delay]: enough to spread feeds that were polled together over a few
# minutes, too little to matter to any one feed's freshness.
MAX_JITTER_FRACTION = 0.10

HARD, SOFT, TEMPORARY = 1.0, 0.5, 0.25
_SUCCESS = frozenset({Outcome.OK, Outcome.NOT_MODIFIED})
_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(_SUCCESS, 0.0),
    **dict.fromkeys(NOT_REQUESTED, 0.0),  # no request was made: no evidence either way
    **dict.fromkeys(
        (
            Outcome.GONE,
            Outcome.NOT_A_FEED,
            Outcome.NOT_HTML,
            Outcome.PARSE_ERROR,
            Outcome.BAD_URL,
            Outcome.SSRF_BLOCKED,
            Outcome.TLS_ERROR,
            Outcome.TOO_MANY_REDIRECTS,
        ),
        HARD,
    ),
    **dict.fromkeys(
        (Outcome.CLIENT_ERROR, Outcome.TOO_LARGE, Outcome.BAD_ENCODING, Outcome.ROBOTS_DISALLOWED), SOFT
    ),
    **dict.fromkeys(
        (
            Outcome.TIMEOUT,
            Outcome.CONNECT_ERROR,
            Outcome.SERVER_ERROR,
            Outcome.RATE_LIMITED,
            Outcome.TRUNCATED,
            Outcome.EXTRACT_EMPTY,
            Outcome.EXTRACT_TIMEOUT,
        ),
        TEMPORARY,
    ),
}


@dataclass(frozen=True, slots=True)
class Cadence:
    """What to store on the feed after one poll."""

    interval_seconds: int
    failure_score: float
    next_poll_at: datetime  # UTC-aware


def failure_weight(outcome: str) -> float:
    """How much one poll ending in `outcome` adds to the failure score (table in the module docstring)."""
    return _WEIGHTS.get(str(outcome), TEMPORARY)


def next_cadence(
    *,
    interval_seconds: int | None,
    failure_score: float,
    outcome: str,
    entries_seen: int,
    entries_new: int,
    retry_after_seconds: float | None,
    now: datetime,
    rng: random.Random,
) -> Cadence:
    """The feed's interval, failure score and next poll time after a poll that ended in `outcome` at `now`.

    `now` must be timezone-aware (ValueError otherwise); every other odd input is clamped, never raised on.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    interval = _clamp_interval(interval_seconds)
    if outcome in NOT_REQUESTED:
        delay = max(_retry_after(retry_after_seconds), interval)
        next_poll_at = now.astimezone(UTC) + _jittered(delay, rng.uniform(0.0, MAX_JITTER_FRACTION))
        return Cadence(round(interval.total_seconds()), _clean_score(failure_score), next_poll_at)
    weight = failure_weight(outcome)
    if weight == 0.0:
        interval = _adapt_interval(interval, str(outcome), entries_seen, entries_new)
        score, delay = 0.0, interval
    else:
        score = _clean_score(failure_score) + weight
        delay = _backoff(interval, score)
    delay = max(delay, _retry_after(retry_after_seconds))
    next_poll_at = now.astimezone(UTC) + _jittered(delay, rng.uniform(0.0, MAX_JITTER_FRACTION))
    return Cadence(round(interval.total_seconds()), score, next_poll_at)


def _jittered(delay: timedelta, fraction: float) -> timedelta:
    """`delay` lengthened by `fraction` of itself; where that would pass MAX_BACKOFF, shortened by it
    instead, so that a feed is polled once a month at worst and capped feeds still drift apart."""
    longer = delay * (1 + fraction)
    return longer if longer <= MAX_BACKOFF else MAX_BACKOFF - delay * fraction  # no delay exceeds the cap


def is_due(next_poll_at: datetime | None, now: datetime) -> bool:
    """Whether a feed should be polled at `now`; a feed never polled (None) is due."""
    return next_poll_at is None or next_poll_at <= now


def _clamp_interval(interval_seconds: int | None) -> timedelta:
    if interval_seconds is None:
        return DEFAULT_INTERVAL
    seconds = min(max(interval_seconds, MIN_INTERVAL.total_seconds()), MAX_INTERVAL.total_seconds())
    return timedelta(seconds=seconds)


def _adapt_interval(interval: timedelta, outcome: str, entries_seen: int, entries_new: int) -> timedelta:
    """Shorten when most entries are new, lengthen when most are known (or nothing changed), else keep."""
    seen = max(entries_seen, 0)
    new = min(max(entries_new, 0), seen)
    new_fraction = new / seen if outcome == Outcome.OK and seen else 0.0
    if new_fraction > MOSTLY_NEW:
        factor = SHORTEN_FACTOR
    elif new_fraction < MOSTLY_NEW:
        factor = LENGTHEN_FACTOR
    else:
        factor = 1.0
    return min(max(interval * factor, MIN_INTERVAL), MAX_INTERVAL)


def _clean_score(failure_score: float) -> float:
    """A stored score that is negative or not finite (a bad row) counts as no failures."""
    return failure_score if math.isfinite(failure_score) and failure_score > 0 else 0.0


def _backoff(interval: timedelta, score: float) -> timedelta:
    """BACKOFF_STEP per point of score: never sooner than the healthy interval, never later than a month."""
    seconds = min(BACKOFF_STEP.total_seconds() * score, MAX_BACKOFF.total_seconds())
    return min(max(timedelta(seconds=seconds), interval), MAX_BACKOFF)


def _retry_after(retry_after_seconds: float | None) -> timedelta:
    """The server's Retry-After cut to MAX_RETRY_AFTER; absent, negative or not a number counts as none."""
    if retry_after_seconds is None or not retry_after_seconds > 0:
        return timedelta(0)
    return timedelta(seconds=min(retry_after_seconds, MAX_RETRY_AFTER.total_seconds()))
