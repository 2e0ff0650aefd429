"""Polling feeds: fetch them on the run's shared host memory (extract.feeds), then hash and parse each.

A feed is polled conditionally (its stored validators, and its body hash as a second check), except once a
day: then the GET carries no validators and the body is parsed even when its hash is unchanged, so a
server that answers 304 (or the same bytes) when it should not can hide new entries for a day at most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import httpx

from newsetl.extract.feeds import FeedRequest, fetch_feeds
from newsetl.extract.hosts import CrawlState
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome, Validators
from newsetl.flows.plan import PolledFeed
from newsetl.load.records import FeedPoll, FeedState
from newsetl.transform.feeds import FeedParseError, parse_feed
from newsetl.transform.records import ParsedFeed

# How often a feed is polled without validators and judged on its entries, whatever 304s it answers.
FULL_POLL_EVERY = timedelta(days=1)


def poll_feeds(
    client: httpx.Client, feeds: Sequence[FeedState], policy: HttpPolicy, crawl: CrawlState, now: datetime
) -> list[PolledFeed]:
    """Poll every feed, concurrently across hosts and politely within one; results in input order."""
    full = [is_full_poll_due(feed, now) for feed in feeds]
    requests = [_request(feed, whole) for feed, whole in zip(feeds, full, strict=True)]
    fetched = fetch_feeds(client, requests, policy, crawl)
    return [_polled(feed, result, whole) for feed, result, whole in zip(feeds, fetched, full, strict=True)]


def is_full_poll_due(feed: FeedState, now: datetime) -> bool:
    return feed.last_full_poll_at is None or now - feed.last_full_poll_at >= FULL_POLL_EVERY


def _request(feed: FeedState, full: bool) -> FeedRequest:
    return FeedRequest(feed.url, None if full else Validators(feed.etag, feed.last_modified))


def _polled(feed: FeedState, fetched: FetchResult, full: bool) -> PolledFeed:
    if fetched.outcome != Outcome.OK:
        poll = _poll(feed, fetched, fetched.outcome, detail=fetched.detail)
        return PolledFeed(feed, poll, retry_after_seconds=fetched.retry_after_seconds)
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    if body_hash == feed.body_hash and not full:  # servers that ignore validators still send the same bytes
        return PolledFeed(feed, _poll(feed, fetched, Outcome.NOT_MODIFIED, detail="body unchanged"))
    try:
        parsed = parse_feed(fetched.body, fetched.final_url or feed.url, _content_type(fetched))
    except FeedParseError as error:
        return PolledFeed(feed, _poll(feed, fetched, error.outcome, detail=error.detail))
    poll = replace(
        _poll(feed, fetched, Outcome.OK, detail=parsed.warning), body_hash=body_hash, full_poll=full
    )
    return PolledFeed(feed, _with_entry_counts(poll, parsed), parsed.entries)


def _with_entry_counts(poll: FeedPoll, parsed: ParsedFeed) -> FeedPoll:
    """What the feed listed, and what of it led nowhere: kept with the poll so nothing vanishes unseen."""
    return replace(
        poll,
        entries_seen=len(parsed.entries),
        entries_without_link=parsed.entries_without_link,
        entries_duplicate=parsed.entries_duplicate,
        dates_nulled=parsed.dates_nulled,
        title=parsed.title,
    )


def _poll(feed: FeedState, fetched: FetchResult, outcome: str, detail: str | None) -> FeedPoll:
    return FeedPoll(
        feed_id=feed.id,
        outcome=str(outcome),
        http_status=fetched.status,
        duration_ms=round(fetched.elapsed_seconds * 1000),
        etag=fetched.validators.etag,
        last_modified=fetched.validators.last_modified,
        detail=detail,
    )


def _content_type(fetched: FetchResult) -> str | None:
    if fetched.content_type and fetched.charset:
        return f"{fetched.content_type}; charset={fetched.charset}"
    return fetched.content_type
