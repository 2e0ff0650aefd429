"""What one memory per host saves when a host misbehaves: wall time and requests, with and without it.

    python -m benchmarks.host_faults [--deadline SECONDS]

Three hosts on 127.0.0.1, each misbehaving in one way, polled and fetched through extract/ as a run does:
"shared" is one CrawlState for the whole run (feeds and pages share each host's breaker, Retry-After and
time budget); "before" is how newsetl worked until now: every feed polled on its own (no breaker, no
Retry-After across feeds), the pages sharing one state of their own without a time budget. Prints a table;
nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler

from newsetl.extract.client import make_client
from newsetl.extract.feeds import FeedRequest, fetch_feeds
from newsetl.extract.hosts import CrawlState
from newsetl.extract.pages import fetch_pages
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult
from tests.localserver import LocalServer, Response, serving

FEED = Response(
    b"<rss version='2.0'><channel><title>t</title></channel></rss>", 200, {"Content-Type": "text/xml"}
)
PAGE = Response(
    b"<!DOCTYPE html><html><body><p>Talks resume.</p></body></html>", 200, {"Content-Type": "text/html"}
)


@dataclass(frozen=True)
class Row:
    scenario: str
    mode: str
    seconds: float
    requests: int
    outcomes: str


def _hang(_handler: BaseHTTPRequestHandler) -> None:
    time.sleep(60)  # accepts and never answers in time


def _dead_host(server: LocalServer) -> tuple[list[FeedRequest], list[str]]:
    for index in range(10):
        server.routes[f"/dead{index}.xml"] = _hang
    return [FeedRequest(server.url(f"/dead{index}.xml")) for index in range(10)], []


def _rate_limited_host(server: LocalServer) -> tuple[list[FeedRequest], list[str]]:
    server.routes["/busy0.xml"] = Response(b"", 429, {"Retry-After": "3600"})
    for index in range(1, 10):
        server.routes[f"/busy{index}.xml"] = FEED
    for index in range(30):
        server.routes[f"/busy/page{index}"] = PAGE
    feeds = [FeedRequest(server.url(f"/busy{index}.xml")) for index in range(10)]
    return feeds, [server.url(f"/busy/page{index}") for index in range(30)]


def _slow_outlet(server: LocalServer) -> tuple[list[FeedRequest], list[str]]:
    for index in range(60):
        server.routes[f"/slow/page{index}"] = PAGE
    return [], [server.url(f"/slow/page{index}") for index in range(60)]


def _run(policy: HttpPolicy, feeds: list[FeedRequest], pages: list[str], shared: bool) -> list[FetchResult]:
    with make_client(policy) as client:
        state = CrawlState(client, policy)
        for_feed: Callable[[], CrawlState] = (
            (lambda: state) if shared else (lambda: CrawlState(client, policy))
        )
        results = [r for feed in feeds for r in fetch_feeds(client, [feed], policy, for_feed())]
        return results + fetch_pages(client, pages, policy, state=state)


def _measure(name: str, server: LocalServer, policy: HttpPolicy, scenario, shared: bool) -> Row:
    feeds, pages = scenario(server)
    before = len(server.requests)
    started = time.monotonic()
    results = _run(policy, feeds, pages, shared)
    seconds = time.monotonic() - started
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(Counter(str(r.outcome) for r in results).items()))
    mode = "shared" if shared else "before"
    return Row(name, mode, seconds, len(server.requests) - before, outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=2.0, help="total deadline per request (2 s)")
    args = parser.parse_args()
    base = HttpPolicy(
        allowed_networks=("127.0.0.0/8",),
        connect_timeout=args.deadline,
        read_timeout=args.deadline,
        total_deadline=args.deadline,
        per_host_delay=0.0,
        respect_robots=False,
    )
    # A Crawl-delay of 30 s and a 10-minute budget, scaled down 120 times: 0.25 s apart, a 5 s budget.
    slow = replace(base, per_host_delay=0.25, host_budget_seconds=5.0)
    scenarios = [
        ("dead host, 10 feeds", base, _dead_host),
        ("429 host, 10 feeds + 30 pages", base, _rate_limited_host),
        ("slow outlet, 60 pages, budget 5 s", slow, _slow_outlet),
    ]
    rows = []
    with serving() as server:
        for name, policy, scenario in scenarios:
            for shared in (True, False):  # interleaved, so machine noise hits both alike
                run_policy = policy if shared else replace(policy, host_budget_seconds=None)
                rows.append(_measure(name, server, run_policy, scenario, shared))
    print(f"{'scenario':36} {'host memory':12} {'seconds':>8} {'requests':>9}  outcomes")
    for row in rows:
        print(f"{row.scenario:36} {row.mode:12} {row.seconds:8.1f} {row.requests:9d}  {row.outcomes}")


if __name__ == "__main__":
    main()
