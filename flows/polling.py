"""Polling feeds: conditional GET, body hash, parse. Feeds of one host are polled one after another."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx

from extract.client import fetch_feed
from extract.policy import HttpPolicy
from extract.records import FetchResult, Outcome, Validators
from flows.plan import PolledFeed
from load.records import FeedPoll, FeedState
from transform.feeds import FeedParseError, parse_feed
from transform.urls import host_of


def poll_feeds(client: httpx.Client, feeds: Sequence[FeedState], policy: HttpPolicy) -> list[PolledFeed]:
    """Poll every feed, concurrently across hosts and politely within one; results in input order."""
    by_host: dict[str, list[int]] = defaultdict(list)
    for index, feed in enumerate(feeds):
        by_host[host_of(feed.url)].append(index)
    results: dict[int, PolledFeed] = {}

    def poll_host(indexes: list[int]) -> None:
        for position, index in enumerate(indexes):
            if position:
                time.sleep(policy.per_host_delay)
            results[index] = poll_feed(client, feeds[index], policy)

    with ThreadPoolExecutor(max_workers=policy.max_parallel_hosts) as executor:
        futures = [executor.submit(poll_host, indexes) for indexes in by_host.values()]
        try:
            for future in futures:
                future.result()  # re-raises what nobody expected
        except BaseException:  # a signal or a bug: do not poll the hosts still waiting
            executor.shutdown(wait=False, cancel_futures=True)
            raise
    return [results[i] for i in range(len(feeds))]


def poll_feed(client: httpx.Client, feed: FeedState, policy: HttpPolicy) -> PolledFeed:
    fetched = fetch_feed(client, feed.url, Validators(feed.etag, feed.last_modified), policy)
    if fetched.outcome != Outcome.OK:
        poll = _poll(feed, fetched, fetched.outcome, detail=fetched.detail)
        return PolledFeed(feed, poll, retry_after_seconds=fetched.retry_after_seconds)
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    if body_hash == feed.body_hash:  # servers that ignore validators still send the same bytes
        return PolledFeed(feed, _poll(feed, fetched, Outcome.NOT_MODIFIED, detail="body unchanged"))
    try:
        parsed = parse_feed(fetched.body, fetched.final_url or feed.url, _content_type(fetched))
    except FeedParseError as error:
        return PolledFeed(feed, _poll(feed, fetched, error.outcome, detail=error.detail))
    poll = _poll(feed, fetched, Outcome.OK, detail=parsed.warning)
    poll = replace(poll, entries_seen=len(parsed.entries), body_hash=body_hash, title=parsed.title)
    return PolledFeed(feed, poll, parsed.entries)


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
