"""Which pages a run fetches, from polled feeds and what the database already holds."""

from __future__ import annotations

from newsetl.extract.hosts import host_name
from newsetl.transform.plan import PagePlan, PolledFeed, needs_fetch, plan_pages
from newsetl.transform.records import FeedEntry, FeedPoll, FeedState, KnownArticle
from newsetl.transform.urls import url_key


def _polled(feed_id: int, *links: str) -> PolledFeed:
    entries = tuple(FeedEntry(link, f"g-{link}", None, None, None) for link in links)
    return PolledFeed(
        FeedState(feed_id, f"https://f{feed_id}.example/rss", None, None, None),
        FeedPoll(feed_id, "ok", 200, 1),
        entries,
    )


def _plan(polled, known, retries, max_attempts, limit) -> PagePlan:
    return plan_pages(polled, known, retries, max_attempts, limit, host_name)


def test_an_article_in_two_feeds_is_fetched_once_with_both_listings() -> None:
    plan = _plan(
        [_polled(1, "https://a.example/x?utm_source=rss"), _polled(2, "https://a.example/x#top")],
        {},
        [],
        3,
        None,
    )
    assert len(plan.jobs) == 1 and [li.feed_id for li in plan.jobs[0].listings] == [1, 2]
    assert plan.duplicates == 1 and plan.new_per_feed == {1: 1}


def test_stored_articles_are_linked_not_fetched_unless_a_transient_failure_has_attempts_left() -> None:
    stored, retry, exhausted = "https://a.example/1", "https://a.example/2", "https://a.example/3"
    known = {
        url_key(stored): KnownArticle(1, "ok", 1),
        url_key(retry): KnownArticle(2, "timeout", 1),
        url_key(exhausted): KnownArticle(3, "timeout", 3),
    }
    plan = _plan([_polled(1, stored, retry, exhausted)], known, [], 3, None)
    assert [job.url for job in plan.jobs] == [retry]
    assert sorted(key for key, _ in plan.known_links) == sorted([url_key(stored), url_key(exhausted)])
    assert plan.duplicates == 2 and plan.new_per_feed == {}


def test_pending_retries_not_listed_by_any_feed_are_fetched_too() -> None:
    plan = _plan([_polled(1, "https://a.example/1")], {}, [("k-old", "https://b.example/old")], 3, None)
    assert [job.url for job in plan.jobs] == ["https://a.example/1", "https://b.example/old"]


def test_limit_defers_the_rest_and_marks_their_feeds_for_a_full_poll_next_time() -> None:
    plan = _plan(
        [_polled(1, "https://a.example/1"), _polled(2, "https://a.example/2", "https://a.example/3")],
        {},
        [],
        3,
        2,
    )
    assert [job.url for job in plan.jobs] == ["https://a.example/1", "https://a.example/2"]
    assert plan.deferred == 1 and plan.deferred_feeds == frozenset({2})


def test_needs_fetch() -> None:
    assert needs_fetch(None, 3)
    assert not needs_fetch(KnownArticle(1, "gone", 1), 3)  # permanent: recorded and left alone
    assert needs_fetch(KnownArticle(1, "rate_limited", 2), 3)
    assert not needs_fetch(KnownArticle(1, "rate_limited", 3), 3)


def test_pages_are_interleaved_across_hosts_so_batches_span_hosts() -> None:
    links = [f"https://a.example/{i}" for i in range(3)] + [f"https://b.example/{i}" for i in range(2)]
    plan = _plan([_polled(1, *links)], {}, [], 3, None)
    hosts = [job.url.split("/")[2][0] for job in plan.jobs]
    assert hosts == ["a", "b", "a", "b", "a"]


def test_a_link_no_request_can_be_made_for_is_planned_not_raised() -> None:
    """The host of an unfetchable link is "" (it ends as bad_url when fetched), never an exception."""
    plan = _plan([_polled(1, "https://a.example/bad\x00x", "https://a.example/1")], {}, [], 3, None)
    assert len(plan.jobs) == 2
