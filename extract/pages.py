"""Article pages: concurrent across hosts, polite within one, each ending in exactly one outcome.

One worker thread per host (extract.hosts) walks that host's URLs in order: the host's breaker, Retry-After
and budget, robots.txt, the politeness delay, the fetch, content sniffing. Hosts never wait on each other,
so a host that answers 429 or hangs costs only its own URLs, and the run never sleeps on a Retry-After:
the rest of that host's URLs are deferred and carry the Retry-After for the scheduler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

import httpx

from newsetl.extract.client import fetch
from newsetl.extract.hosts import CrawlState, HostState, ResultCallback, by_host
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import HTML_MEDIA_TYPES, SNIFF_BYTES, FetchResult, Outcome, is_binary
from newsetl.extract.robots import RobotsCache, RobotsRules

logger = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
# Labels servers put on HTML they did not bother to label; for these the bytes decide.
AMBIGUOUS_TYPES = frozenset(
    {None, "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown",
     "unknown/unknown", "application/x-unknown", "text/xml", "application/xml"}
)  # fmt: skip
_HTML_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|title|meta|script|style|div|p|h1|table|a|!--)[\s>/]", re.IGNORECASE
)


# ---------------------------------------------------------------- sniffing


def looks_like_html(body: bytes) -> bool:
    return _HTML_START.search(body[:SNIFF_BYTES]) is not None


def sniff_page(result: FetchResult) -> FetchResult:
    """An ok page whose bytes or label say it is not HTML/XHTML becomes not_html, its body dropped."""
    if result.outcome is not Outcome.OK:
        return result
    binary = is_binary(result.body)
    if not binary and result.content_type in HTML_MEDIA_TYPES:
        return result
    if not binary and result.content_type in AMBIGUOUS_TYPES and looks_like_html(result.body):
        return result
    reason = "binary signature" if binary else f"content type {result.content_type}"
    return replace(result, outcome=Outcome.NOT_HTML, body=b"", detail=f"not an HTML page: {reason}")


# ---------------------------------------------------------------- per page


def _robots_refusal(url: str, rules: RobotsRules) -> FetchResult:
    """Result for a page robots.txt keeps us from; an unreachable robots.txt passes on its transient outcome.

    A 5xx or timeout on robots.txt disallows the host only until the next run, so the page is labelled with
    that (retryable) outcome, not with the permanent-looking robots_disallowed.
    """
    passes_on = rules.source.is_transient or rules.source in (Outcome.SSRF_BLOCKED, Outcome.TLS_ERROR)
    if rules.unreachable and passes_on:
        detail = f"robots.txt unreachable ({rules.detail}); host disallowed for this run"
        return FetchResult(url, rules.source, retry_after_seconds=rules.retry_after_seconds, detail=detail)
    return FetchResult(url, Outcome.ROBOTS_DISALLOWED, detail=f"robots.txt of {rules.origin}")


def _fetch_one(
    client: httpx.Client, url: str, policy: HttpPolicy, robots: RobotsCache, host: HostState
) -> FetchResult:
    refused = host.refusal(url)  # before robots.txt too: a host we must not ask gets no robots.txt request
    if refused is not None:
        return refused
    if policy.respect_robots:
        rules = robots.rules_for(url, host.turn)
        if not rules.allows(url, policy.robots_token):
            return _robots_refusal(url, rules)
        host.slow_down_to(rules.crawl_delay(policy.robots_token))
    result = host.request(
        url, lambda: fetch(client, url, policy, max_bytes=policy.max_page_bytes, accept=PAGE_ACCEPT)
    )
    return sniff_page(result)


# ---------------------------------------------------------------- the batch


def fetch_pages(
    client: httpx.Client,
    urls: Sequence[str],
    policy: HttpPolicy,
    *,
    state: CrawlState | None = None,
    on_result: ResultCallback | None = None,
) -> list[FetchResult]:
    """One FetchResult per URL, in input order; `on_result` sees each as it completes (serialised).

    Concurrent across hosts (policy.max_parallel_hosts threads), sequential and `per_host_delay` apart within
    a host. `state` carries host memory between calls and with the run's feed polls (default: fresh for this
    call). An unexpected exception in any worker cancels the hosts not yet started and propagates.
    """
    crawl = state or CrawlState(client, policy)

    def fetch_one(host: HostState, _index: int, url: str) -> FetchResult:
        result = _fetch_one(client, url, policy, crawl.robots, host)
        logger.info(
            "page fetched url=%s outcome=%s status=%s bytes=%d elapsed=%.3f detail=%s",
            result.url, result.outcome, result.status, len(result.body), result.elapsed_seconds,
            result.detail,
        )  # fmt: skip
        return result

    return by_host(urls, fetch_one, crawl, on_result)
