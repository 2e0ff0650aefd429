"""One memory per host: feed polls and page fetches of a run share each host's breaker, Retry-After and
time budget (extract.hosts), against real servers on 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

from newsetl.extract.client import make_client
from newsetl.extract.feeds import FeedRequest, fetch_feeds
from newsetl.extract.hosts import CrawlState
from newsetl.extract.pages import fetch_pages
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome
from tests.hostpolicy import local_policy
from tests.localserver import LocalServer, Response

FEED = Response(
    b"<rss version='2.0'><channel><title>t</title></channel></rss>", 200, {"Content-Type": "text/xml"}
)
PAGE = Response(
    b"<!DOCTYPE html><html><body><p>Talks resume.</p></body></html>", 200, {"Content-Type": "text/html"}
)
BASE = local_policy(total_deadline=1.0)


def _feeds(server: LocalServer, count: int, prefix: str = "/feed") -> list[FeedRequest]:
    for index in range(count):
        server.routes.setdefault(f"{prefix}{index}.xml", FEED)
    return [FeedRequest(server.url(f"{prefix}{index}.xml")) for index in range(count)]


def _hang(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(5)  # a host that accepts and never answers in time


def _poll(requests: list[FeedRequest], policy: HttpPolicy = BASE, **state) -> list[FetchResult]:
    with make_client(policy) as client:
        return fetch_feeds(client, requests, policy, CrawlState(client, policy, **state))


def test_a_dead_host_with_ten_feeds_costs_one_deadline_not_ten(one, two) -> None:
    for index in range(10):
        one.routes[f"/feed{index}.xml"] = _hang
    started = time.monotonic()

    results = _poll(_feeds(one, 10) + _feeds(two, 2))

    assert time.monotonic() - started < 2.5  # one 1 s deadline, not ten
    assert [r.outcome for r in results[:10]] == [Outcome.TIMEOUT] + [Outcome.SKIPPED] * 9
    assert [r.outcome for r in results[10:]] == [Outcome.OK, Outcome.OK]
    assert len(one.paths_requested()) == 1


def test_a_429_on_one_feed_defers_that_hosts_other_feeds_and_pages(one, two) -> None:
    one.routes["/feed0.xml"] = Response(b"", 429, {"Retry-After": "600"})
    one.routes["/story"] = PAGE
    two.routes["/story"] = PAGE
    with make_client(BASE) as client:
        state = CrawlState(client, BASE)
        feeds = fetch_feeds(client, _feeds(one, 3) + _feeds(two, 1), BASE, state)
        pages = fetch_pages(client, [one.url("/story"), two.url("/story")], BASE, state=state)

    assert [r.outcome for r in feeds] == [
        Outcome.RATE_LIMITED,
        Outcome.DEFERRED,
        Outcome.DEFERRED,
        Outcome.OK,
    ]
    assert [r.outcome for r in pages] == [Outcome.DEFERRED, Outcome.OK]
    assert all(595 < (r.retry_after_seconds or 0) <= 600 for r in [*feeds[:3], pages[0]])
    assert one.paths_requested() == ["/feed0.xml"]
    (limit,) = state.rate_limits()
    assert limit.host == "127.0.0.1" and 595 < (limit.until - datetime.now(UTC)).total_seconds() <= 600


def test_a_wait_remembered_from_an_earlier_run_defers_the_host_without_a_request(one, two) -> None:
    results = _poll(_feeds(one, 2) + _feeds(two, 1), waits={"127.0.0.1": 900.0})

    assert [r.outcome for r in results] == [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.OK]
    assert 890 < (results[0].retry_after_seconds or 0) <= 900
    assert one.paths_requested() == []


def test_a_hosts_pages_fit_its_time_budget_and_the_rest_is_deferred(one, two) -> None:
    policy = replace(BASE, per_host_delay=0.3, host_budget_seconds=1.0)
    for index in range(8):
        one.routes[f"/p{index}"] = PAGE
    two.routes["/p0"] = PAGE
    urls = [one.url(f"/p{index}") for index in range(8)] + [two.url("/p0")]
    started = time.monotonic()
    with make_client(policy) as client:
        results = fetch_pages(client, urls, policy)

    fetched = [r for r in results[:8] if r.outcome is Outcome.OK]
    deferred = [r for r in results[:8] if r.outcome is Outcome.DEFERRED]
    assert len(fetched) == 4 and len(deferred) == 4  # 0.3 s apart: requests at 0, 0.3, 0.6, 0.9 s fit in 1 s
    assert results[:4] == fetched and "budget" in (deferred[0].detail or "")
    assert results[8].outcome is Outcome.OK
    assert time.monotonic() - started < 1.5


def test_a_429_without_retry_after_defers_the_host_for_this_run_only(one) -> None:
    one.routes["/feed0.xml"] = Response(b"", 429)
    with make_client(BASE) as client:
        state = CrawlState(client, BASE)
        results = fetch_feeds(client, _feeds(one, 2), BASE, state)

    assert [r.outcome for r in results] == [Outcome.RATE_LIMITED, Outcome.DEFERRED]
    assert results[1].retry_after_seconds is None and state.rate_limits() == []
