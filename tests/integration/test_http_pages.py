"""fetch_pages against real servers: order, politeness, concurrency, breaker, robots.txt, sniffing.

127.0.0.1 and 127.0.0.2 are two hosts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

from newsetl.extract.client import make_client
from newsetl.extract.pages import CrawlState, fetch_pages
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome
from tests.hostpolicy import LOCAL_POLICY, local_policy
from tests.localserver import Response

HTML = b"<!DOCTYPE html><html><head><title>Ceasefire</title></head><body><p>Talks resume.</p></body></html>"
PAGE = Response(HTML, 200, {"Content-Type": "text/html; charset=utf-8"})
BASE = LOCAL_POLICY
policy = local_policy


def run(urls: list[str], pol: HttpPolicy = BASE, **kwargs) -> list[FetchResult]:
    with make_client(pol) as client:
        return fetch_pages(client, urls, pol, **kwargs)


def timed(spans: list[tuple[str, float, float]], work: float = 0.3) -> Callable:
    """A handler that takes `work` seconds and records (path, start, end)."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        start = time.monotonic()
        time.sleep(work)
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(HTML)))
        h.end_headers()
        h.wfile.write(HTML)
        spans.append((f"{h.server.server_address[0]}{h.path}", start, time.monotonic()))

    return handler


# ---------------------------------------------------------------- shape of the batch


def test_one_result_per_url_in_input_order(one, two):
    for server in (one, two):
        server.routes["/ok"] = PAGE
    urls = [one.url("/ok"), "ftp://x/y", two.url("/ok"), one.url("/missing"), two.url("/ok")]
    seen: list[str] = []
    results = run(urls, on_result=lambda r: seen.append(r.url))
    assert [r.url for r in results] == urls
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.BAD_URL, Outcome.OK, Outcome.GONE, Outcome.OK]
    assert sorted(seen) == sorted(urls)
    assert results[0].body == HTML


def test_empty_batch():
    assert run([]) == []


def test_unexpected_exception_propagates(one):
    one.routes["/ok"] = PAGE

    def broken(result: FetchResult) -> None:
        raise ValueError("a bug in the caller")

    with pytest.raises(ValueError, match="a bug"):
        run([one.url("/ok")], on_result=broken)


# ---------------------------------------------------------------- politeness


def test_hosts_overlap_and_one_host_is_spaced(one, two):
    spans: list[tuple[str, float, float]] = []
    for server in (one, two):
        server.routes["/a"] = server.routes["/b"] = timed(spans)
    results = run([one.url("/a"), one.url("/b"), two.url("/a"), two.url("/b")], policy(per_host_delay=0.3))
    assert all(r.outcome is Outcome.OK for r in results)
    span = {path: (start, end) for path, start, end in spans}
    # within a host: the second request starts only after the first ended plus the delay
    for host in ("127.0.0.1", "127.0.0.2"):
        assert span[f"{host}/b"][0] >= span[f"{host}/a"][1] + 0.25
    # across hosts: the first requests of both hosts ran at the same time
    assert span["127.0.0.2/a"][0] < span["127.0.0.1/a"][1] and span["127.0.0.1/a"][0] < span["127.0.0.2/a"][1]


def test_rate_limited_host_is_deferred_for_the_run_while_others_go_on(one, two):
    one.routes["/a"] = Response(b"", 429, {"Retry-After": "3600"})
    one.routes["/b"] = one.routes["/c"] = PAGE
    two.routes["/a"] = two.routes["/b"] = PAGE
    started = time.monotonic()
    results = run([one.url("/a"), one.url("/b"), one.url("/c"), two.url("/a"), two.url("/b")])
    assert time.monotonic() - started < 1.0  # nobody slept on the Retry-After
    assert [r.outcome for r in results] == [
        Outcome.RATE_LIMITED,
        Outcome.DEFERRED,
        Outcome.DEFERRED,
        Outcome.OK,
        Outcome.OK,
    ]
    assert [r.retry_after_seconds for r in results[:3]] == pytest.approx([3600.0] * 3, abs=5)
    assert one.paths_requested() == ["/a"]


def test_a_shared_crawl_state_keeps_a_stopped_host_stopped_and_robots_fetched_once_across_batches(one):
    one.routes["/robots.txt"] = Response(b"User-agent: *\nDisallow: /private/\n")
    one.routes["/a"] = Response(b"", 429, {"Retry-After": "60"})
    one.routes["/b"] = PAGE
    pol = policy(respect_robots=True)
    with make_client(pol) as client:
        state = CrawlState(client, pol)
        first = fetch_pages(client, [one.url("/a")], pol, state=state)
        second = fetch_pages(client, [one.url("/b")], pol, state=state)
    assert (first[0].outcome, second[0].outcome) == (Outcome.RATE_LIMITED, Outcome.DEFERRED)
    assert one.paths_requested() == ["/robots.txt", "/a"]


# ---------------------------------------------------------------- circuit breaker


def test_breaker_opens_after_consecutive_transient_failures(one):
    for i in range(6):
        one.routes[f"/p{i}"] = Response(b"", 500)
    results = run([one.url(f"/p{i}") for i in range(6)], policy(host_failure_limit=3))
    assert [r.outcome for r in results] == [Outcome.SERVER_ERROR] * 3 + [Outcome.SKIPPED] * 3
    assert len(one.requests) == 3


def test_a_success_resets_the_breaker(one):
    one.routes["/bad"] = Response(b"", 502)
    one.routes["/good"] = PAGE
    urls = [one.url(p) for p in ("/bad", "/bad", "/good", "/bad", "/bad", "/good")]
    results = run(urls, policy(host_failure_limit=3))
    assert Outcome.SKIPPED not in [r.outcome for r in results]


def test_permanent_failures_do_not_trip_the_breaker(one):
    results = run([one.url(f"/gone{i}") for i in range(4)], policy(host_failure_limit=2))
    assert [r.outcome for r in results] == [Outcome.GONE] * 4


# ---------------------------------------------------------------- robots.txt


def test_robots_rules_apply_and_are_fetched_once_per_host(one):
    one.routes["/robots.txt"] = Response(
        b"User-agent: newsetl\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n"
    )
    one.routes["/news/1"] = one.routes["/news/2"] = PAGE
    one.routes["/private/1"] = PAGE
    urls = [one.url("/news/1"), one.url("/private/1"), one.url("/news/2")]
    results = run(urls, policy(respect_robots=True))
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.ROBOTS_DISALLOWED, Outcome.OK]
    assert one.paths_requested() == ["/robots.txt", "/news/1", "/news/2"]


def test_robots_request_is_spaced_like_any_other(one):
    spans: list[tuple[str, float, float]] = []
    one.routes["/robots.txt"] = Response(b"", 404)
    one.routes["/a"] = timed(spans, work=0.0)
    started = time.monotonic()
    run([one.url("/a")], policy(respect_robots=True, per_host_delay=0.3))
    assert spans[0][1] - started >= 0.3


def test_a_robots_crawl_delay_spaces_that_hosts_requests(one, two):
    one.routes["/robots.txt"] = Response(b"User-agent: *\nCrawl-delay: 1\n")
    two.routes["/robots.txt"] = Response(b"", 404)
    for server in (one, two):
        server.routes["/a"] = server.routes["/b"] = PAGE
    urls = [one.url("/a"), one.url("/b"), two.url("/a"), two.url("/b")]
    results = run(urls, policy(respect_robots=True, per_host_delay=0.0))
    assert all(r.outcome is Outcome.OK for r in results)
    slow = {r.path: r.at for r in one.requests}
    fast = {r.path: r.at for r in two.requests}
    assert slow["/a"] - slow["/robots.txt"] >= 0.95  # as robots.txt asked, from its own request on
    assert slow["/b"] - slow["/a"] >= 0.95
    assert fast["/b"] - fast["/a"] < 0.5  # the other host is not held to it


@pytest.mark.parametrize("status", [404, 403, 401, 410])
def test_robots_4xx_allows_everything(one, status):
    one.routes["/robots.txt"] = Response(b"no", status)
    one.routes["/a"] = PAGE
    assert run([one.url("/a")], policy(respect_robots=True))[0].outcome is Outcome.OK


@pytest.mark.parametrize(
    ("robots", "outcome"),
    [
        (Response(b"", 500), Outcome.SERVER_ERROR),
        (Response(b"", 429, {"Retry-After": "60"}), Outcome.RATE_LIMITED),
    ],
)
def test_robots_5xx_disallows_the_host_with_a_retryable_outcome(one, two, robots, outcome):
    one.routes["/robots.txt"] = robots
    one.routes["/a"] = one.routes["/b"] = PAGE
    two.routes["/a"] = PAGE
    results = run([one.url("/a"), one.url("/b"), two.url("/a")], policy(respect_robots=True))
    assert [r.outcome for r in results] == [outcome, outcome, Outcome.OK]
    assert one.paths_requested() == ["/robots.txt"]  # no page of the host was requested


def test_slow_robots_is_bounded_and_disallows(one):
    release = threading.Event()
    one.routes["/robots.txt"] = lambda h: release.wait(5)
    one.routes["/a"] = PAGE
    try:
        started = time.monotonic()
        results = run([one.url("/a")], policy(respect_robots=True, read_timeout=0.5))
        assert time.monotonic() - started < 1.5
    finally:
        release.set()
    assert results[0].outcome is Outcome.TIMEOUT
    assert one.paths_requested() == ["/robots.txt"]


def test_robots_ignored_when_policy_says_so(one):
    one.routes["/robots.txt"] = Response(b"User-agent: *\nDisallow: /\n")
    one.routes["/a"] = PAGE
    assert run([one.url("/a")])[0].outcome is Outcome.OK
    assert one.paths_requested() == ["/a"]


# ---------------------------------------------------------------- content sniffing


@pytest.mark.parametrize(
    ("body", "content_type", "outcome"),
    [
        (b"%PDF-1.7\n%binary", "application/pdf", Outcome.NOT_HTML),
        (b"%PDF-1.7\n%binary", "text/html", Outcome.NOT_HTML),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png", Outcome.NOT_HTML),
        (b"\x00\x01binary\x02", "application/octet-stream", Outcome.NOT_HTML),
        (HTML, "application/octet-stream", Outcome.OK),
        (HTML, "application/xhtml+xml", Outcome.OK),
    ],
)
def test_content_sniffing(one, body, content_type, outcome):
    one.routes["/doc"] = Response(body, 200, {"Content-Type": content_type})
    result = run([one.url("/doc")])[0]
    assert result.outcome is outcome
    assert result.body == (body if outcome is Outcome.OK else b"")


def test_a_robots_txt_over_the_cap_is_read_up_to_it_not_taken_as_unreachable(one):
    padding = b"".join(b"# filler line %06d\n" % n for n in range(40_000))  # about 800 KB
    one.routes["/robots.txt"] = Response(b"User-agent: *\nDisallow: /private/\n" + padding)
    one.routes["/a"] = one.routes["/private/b"] = PAGE
    results = run([one.url("/a"), one.url("/private/b")], policy(respect_robots=True))
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.ROBOTS_DISALLOWED]
