"""Article pages: concurrent across hosts, polite within one, each ending in exactly one outcome.

One worker thread per host (at most policy.max_parallel_hosts at once) walks that host's URLs in order:
circuit breaker, robots.txt, the politeness delay, the fetch, content sniffing. Hosts never wait on each
other, so a host that answers 429 or hangs costs only its own URLs, and the run never sleeps on a
Retry-After: the rest of that host's URLs are skipped and carry the Retry-After for the scheduler.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace

import httpx

from extract.client import check_url, fetch
from extract.policy import HttpPolicy
from extract.records import FetchResult, Outcome
from extract.robots import RobotsCache, RobotsRules

logger = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Labels servers put on HTML they did not bother to label; for these the bytes decide.
AMBIGUOUS_TYPES = frozenset(
    {None, "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown",
     "unknown/unknown", "application/x-unknown", "text/xml", "application/xml"}
)  # fmt: skip
# Signatures of formats that are never an article page, whatever the Content-Type says.
BINARY_MAGIC = (
    b"%PDF-", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b",
    b"BZh", b"\xfd7zXZ\x00", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"OggS", b"ID3", b"fLaC", b"RIFF",
    b"II*\x00", b"MM\x00*", b"wOFF", b"wOF2", b"\xd0\xcf\x11\xe0", b"\x7fELF", b"\x00\x00\x01\x00",
)  # fmt: skip
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_HTML_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|title|meta|script|style|div|p|h1|table|a|!--)[\s>/]", re.IGNORECASE
)
_SNIFF_BYTES = 1024

ResultCallback = Callable[[FetchResult], None]


# ---------------------------------------------------------------- sniffing


def is_binary(body: bytes) -> bool:
    """Magic bytes of a non-HTML format, an ISO-BMFF container (mp4/heic/avif), or NUL bytes in the head."""
    head = body[:_SNIFF_BYTES]
    if head.startswith(BINARY_MAGIC) or head[4:8] == b"ftyp":
        return True
    return b"\x00" in head and not head.startswith(_UTF16_BOMS)


def looks_like_html(body: bytes) -> bool:
    return _HTML_START.search(body[:_SNIFF_BYTES]) is not None


def sniff_page(result: FetchResult) -> FetchResult:
    """An ok page whose bytes or label say it is not HTML/XHTML becomes not_html, its body dropped."""
    if result.outcome is not Outcome.OK:
        return result
    binary = is_binary(result.body)
    if not binary and result.content_type in HTML_TYPES:
        return result
    if not binary and result.content_type in AMBIGUOUS_TYPES and looks_like_html(result.body):
        return result
    reason = "binary signature" if binary else f"content type {result.content_type}"
    return replace(result, outcome=Outcome.NOT_HTML, body=b"", detail=f"not an HTML page: {reason}")


# ---------------------------------------------------------------- per host


class _Host:
    """One host's politeness clock and circuit breaker, used by one worker thread at a time."""

    def __init__(self, policy: HttpPolicy) -> None:
        self._delay = policy.per_host_delay
        self._limit = policy.host_failure_limit
        self._ready_at = self._ended_at = 0.0
        self._failures = 0
        self.open_reason: str | None = None
        self.retry_after: float | None = None

    def slow_down_to(self, delay: float) -> None:
        """Space this host's requests at least `delay` seconds apart (its robots.txt Crawl-delay), the
        request after the robots.txt one included."""
        self._delay = max(self._delay, delay)
        self._ready_at = max(self._ready_at, self._ended_at + self._delay)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one request slot: wait out the delay since the previous request to this host ended."""
        time.sleep(max(0.0, self._ready_at - time.monotonic()))
        try:
            yield
        finally:
            self._ended_at = time.monotonic()
            self._ready_at = self._ended_at + self._delay

    def record(self, outcome: Outcome, retry_after: float | None) -> None:
        if outcome is Outcome.RATE_LIMITED:  # the host asked us to stop: no more requests this run
            self.open_reason, self.retry_after = "host rate-limited us earlier in this run", retry_after
        elif outcome.is_transient:
            self._failures += 1
            if self._failures >= self._limit:
                self.open_reason = f"{self._failures} consecutive transient failures on this host"
        else:
            self._failures = 0

    def skipped(self, url: str) -> FetchResult:
        return FetchResult(
            url, Outcome.SKIPPED, retry_after_seconds=self.retry_after, detail=self.open_reason
        )


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
    client: httpx.Client, url: str, policy: HttpPolicy, robots: RobotsCache, host: _Host
) -> FetchResult:
    if host.open_reason is not None:
        return host.skipped(url)
    if policy.respect_robots:
        rules = robots.rules_for(url, host.turn)
        if not rules.allows(url, policy.robots_token):
            return _robots_refusal(url, rules)
        host.slow_down_to(rules.crawl_delay(policy.robots_token))
    with host.turn():
        result = fetch(client, url, policy, max_bytes=policy.max_page_bytes, accept=PAGE_ACCEPT)
    host.record(result.outcome, result.retry_after_seconds)
    return sniff_page(result)


# ---------------------------------------------------------------- the batch


class _Results:
    """Collects results by input position; calls `on_result` one at a time, whatever thread finishes."""

    def __init__(self, size: int, on_result: ResultCallback | None) -> None:
        self._slots: list[FetchResult | None] = [None] * size
        self._on_result = on_result
        self._lock = threading.Lock()

    def put(self, index: int, result: FetchResult) -> None:
        logger.info(
            "page fetched url=%s outcome=%s status=%s bytes=%d elapsed=%.3f detail=%s",
            result.url, result.outcome, result.status, len(result.body), result.elapsed_seconds,
            result.detail,
        )  # fmt: skip
        with self._lock:
            self._slots[index] = result
            if self._on_result is not None:
                self._on_result(result)

    def all(self) -> list[FetchResult]:
        missing = [i for i, r in enumerate(self._slots) if r is None]
        if missing:
            raise RuntimeError(f"no result for URL positions {missing}")  # a bug, never a network problem
        return [r for r in self._slots if r is not None]


def _group_by_host(urls: Sequence[str], results: _Results) -> dict[str, list[tuple[int, str]]]:
    """URLs by host, in input order; unfetchable URLs are answered (bad_url) here and never grouped."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for index, url in enumerate(urls):
        problem = check_url(url)
        if problem is not None:
            results.put(index, FetchResult(url, Outcome.BAD_URL, detail=problem))
            continue
        groups.setdefault(httpx.URL(url).host.lower(), []).append((index, url))
    return groups


class CrawlState:
    """What a run remembers about hosts: politeness clocks, circuit breakers and robots.txt rules.

    Share one across the fetch_pages calls of a run, so that a host that failed, or asked us to stop, in one
    batch stays stopped in the next, and robots.txt is fetched once per run rather than once per batch.
    """

    def __init__(self, client: httpx.Client, policy: HttpPolicy) -> None:
        self.robots = RobotsCache(client, policy)
        self._policy = policy
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def host(self, name: str) -> _Host:
        with self._lock:
            return self._hosts.setdefault(name, _Host(self._policy))


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
    a host. `state` carries host memory between calls (default: fresh for this call). An unexpected
    exception in any worker cancels the hosts not yet started and propagates.
    """
    results = _Results(len(urls), on_result)
    groups = _group_by_host(urls, results)
    crawl = state or CrawlState(client, policy)

    def run_host(name: str, items: list[tuple[int, str]]) -> None:
        host = crawl.host(name)
        for index, url in items:
            results.put(index, _fetch_one(client, url, policy, crawl.robots, host))

    workers = max(1, min(policy.max_parallel_hosts, len(groups)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsetl-pages") as pool:
        futures = [pool.submit(run_host, name, items) for name, items in groups.items()]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results.all()
