"""What one feed poll found: whether it was due in full, and its fetch judged (body hash, then parse).

Pure: the fetch itself is extract.feeds' (on the run's shared host memory); this module only turns its
FetchResult into the FeedPoll load/ stores and the entries the page plan reads. A feed is polled
conditionally (its stored validators, and its body hash as a second check), except once a
day: then the GET carries no validators and the body is parsed even when its hash is unchanged, so a
server that answers 304 (or the same bytes) when it should not can hide new entries for a day at most.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from newsetl.extract.records import FetchResult, Outcome, Validators
from newsetl.transform.feeds import FeedParseError, parse_feed
from newsetl.transform.plan import PolledFeed
from newsetl.transform.records import FeedPoll, FeedState, ParsedFeed

# How often a feed is polled without validators and judged on its entries, whatever 304s it answers.
FULL_POLL_EVERY = timedelta(days=1)


def is_full_poll_due(feed: FeedState, now: datetime) -> bool:
    return feed.last_full_poll_at is None or now - feed.last_full_poll_at >= FULL_POLL_EVERY


def validators_to_send(feed: FeedState, full: bool) -> Validators | None:
    """The validators of the last poll, or none for a full poll (an unconditional GET)."""
    return None if full else Validators(feed.etag, feed.last_modified)


def judge_poll(feed: FeedState, fetched: FetchResult, full: bool) -> PolledFeed:
    """The poll's outcome and entries: a failed fetch as it ended, the same bytes as not_modified (unless
    in full), else the parsed feed or the reason it is none."""
    if fetched.outcome != Outcome.OK:
        poll = _poll(feed, fetched, fetched.outcome, detail=fetched.detail)
        return PolledFeed(feed, poll, retry_after_seconds=fetched.retry_after_seconds)
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    if body_hash == feed.body_hash and not full:  # servers that ignore validators still send the same bytes
        return PolledFeed(feed, _poll(feed, fetched, Outcome.NOT_MODIFIED, detail="body unchanged"))
    try:
        parsed = parse_feed(
            fetched.body,
            fetched.final_url or feed.url,
            media_type=fetched.content_type,
            charset=fetched.charset,
        )
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


def _poll(feed: FeedState, fetched: FetchResult, outcome: Outcome, detail: str | None) -> FeedPoll:
    return FeedPoll(
        feed_id=feed.id,
        outcome=outcome,
        http_status=fetched.status,
        duration_ms=round(fetched.elapsed_seconds * 1000),
        etag=fetched.validators.etag,
        last_modified=fetched.validators.last_modified,
        detail=detail,
    )
