"""Deciding which pages a run fetches: pure bookkeeping over polled feeds and what the database knows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from newsetl.transform.records import FeedEntry, FeedPoll, FeedState, KnownArticle, Listing, Outcome
from newsetl.transform.urls import url_key

TRANSIENT_OUTCOMES = frozenset(o for o in Outcome if o.is_transient)


@dataclass(frozen=True, slots=True)
class PolledFeed:
    """A feed after its poll: the stored outcome so far and the entries it listed (none unless ok)."""

    feed: FeedState
    poll: FeedPoll
    entries: tuple[FeedEntry, ...] = ()
    retry_after_seconds: float | None = (
        None  # the server's Retry-After, honoured when scheduling the next poll
    )


@dataclass(slots=True)
class PageJob:
    url: str
    url_key: str
    listings: list[Listing] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PagePlan:
    jobs: list[PageJob]  # pages to fetch now, in the order feeds listed them
    known_links: list[tuple[str, Listing]]  # feeds listing articles already stored: links only
    duplicates: int  # entries that named a stored article, or one already listed in this run
    deferred_feeds: frozenset[int]  # feeds with entries left for a later run by --limit
    deferred: int
    new_per_feed: dict[int, int]


def needs_fetch(known: KnownArticle | None, max_attempts: int) -> bool:
    """New URLs are fetched; stored ones only while their failures were transient and attempts remain."""
    if known is None:
        return True
    return known.outcome in TRANSIENT_OUTCOMES and known.attempts < max_attempts


def plan_pages(
    polled: Sequence[PolledFeed],
    known: Mapping[str, KnownArticle],
    retries: Sequence[tuple[str, str]],
    max_attempts: int,
    limit: int | None,
    host_key: Callable[[str], str],
) -> PagePlan:
    """The pages to fetch, in an order that alternates hosts (`host_key` is the fetcher's own notion of a
    host, extract.hosts.host_name, so that the order matches how politeness is kept)."""
    listed = _group_listings(polled)
    to_fetch = [job for key, job in listed.items() if needs_fetch(known.get(key), max_attempts)]
    fetching = {job.url_key for job in to_fetch}
    known_links = [(k, li) for k, job in listed.items() if k not in fetching for li in job.listings]
    jobs = _interleave_hosts(
        to_fetch + [PageJob(url, key) for key, url in retries if key not in listed], host_key
    )
    kept, deferred = (jobs, []) if limit is None else (jobs[:limit], jobs[limit:])
    return PagePlan(
        jobs=kept,
        known_links=known_links,
        duplicates=sum(len(job.listings) for job in listed.values()) - len(to_fetch),
        deferred_feeds=frozenset(li.feed_id for job in deferred for li in job.listings),
        deferred=len(deferred),
        new_per_feed=_new_per_feed(listed, known),
    )


def _group_listings(polled: Sequence[PolledFeed]) -> dict[str, PageJob]:
    """Entries of all feeds by article key, in listing order; one job per article, many listings."""
    listed: dict[str, PageJob] = {}
    for item in polled:
        for entry in item.entries:
            key = url_key(entry.link)
            job = listed.setdefault(key, PageJob(entry.link, key))
            if all(li.feed_id != item.feed.id for li in job.listings):
                job.listings.append(Listing(item.feed.id, entry.guid))
    return listed


def _new_per_feed(listed: Mapping[str, PageJob], known: Mapping[str, KnownArticle]) -> dict[int, int]:
    """Entries new to the database, credited to the first feed that listed them."""
    counts: dict[int, int] = {}
    for key, job in listed.items():
        if key not in known and job.listings:
            first = job.listings[0].feed_id
            counts[first] = counts.get(first, 0) + 1
    return counts


def _interleave_hosts(jobs: list[PageJob], host_key: Callable[[str], str]) -> list[PageJob]:
    """Jobs taken from each host in turn, so a batch spans many hosts and fetches them concurrently
    instead of waiting out one host's politeness delay page after page."""
    by_host: dict[str, list[PageJob]] = {}
    for job in jobs:
        by_host.setdefault(host_key(job.url), []).append(job)
    queues = list(by_host.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
