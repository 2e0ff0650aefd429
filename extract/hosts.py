"""What a run remembers per host, shared by feed polls and page fetches: one memory per host.

Each host has one politeness clock, one circuit breaker, one Retry-After and one time budget, whichever
kind of request (feed, robots.txt, page) is made to it. So a dead host with ten feeds costs one deadline,
not ten; a 429 on one feed defers that host's other feeds and pages; and one outlet with a long
Crawl-delay and hundreds of new links cannot stretch a run past its budget.

Requests a host is not asked for end without a byte sent:

- `skipped`: the breaker is open (the host timed out or refused a connection, or failed transiently
  `host_failure_limit` times in a row). Tried again by the next run.
- `deferred`: the host asked us to wait (Retry-After, from this run or remembered from an earlier one),
  or its time budget for this run is spent. Tried again once that passes; never counted as a failure.

`by_host` runs one worker thread per host (at most `max_parallel_hosts` at once) over that host's items in
order, so hosts never wait on each other and the run never sleeps on a Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from newsetl.extract.client import check_url
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome
from newsetl.extract.robots import RobotsCache

# A host that timed out or refused a connection is left alone for the rest of the run: every further
# request would most likely cost another full deadline (a dead host with ten feeds: ten minutes).
_UNREACHABLE = frozenset({Outcome.TIMEOUT, Outcome.CONNECT_ERROR})

ResultCallback = Callable[[FetchResult], None]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A host's request to wait, as the next runs must honour it."""

    host: str
    until: datetime  # UTC: when the host may be asked again
    reason: str


class HostState:
    """One host's politeness clock, circuit breaker, Retry-After and time budget; one thread at a time."""

    def __init__(self, name: str, policy: HttpPolicy, wait_seconds: float | None = None) -> None:
        self.name = name
        self._delay = policy.per_host_delay
        self._limit = policy.host_failure_limit
        self._budget = policy.host_budget_seconds
        self._ready_at = self._ended_at = 0.0
        self._spent = 0.0
        self._failures = 0
        self._skip_reason: str | None = None
        self._defer_until: float | None = None  # monotonic time; set by a Retry-After
        self._defer_reason: str | None = None
        self.learnt: RateLimit | None = None  # a Retry-After learnt in this run, for the next runs
        if wait_seconds is not None and wait_seconds > 0:
            self._defer(wait_seconds, "the host asked us to wait (Retry-After) in an earlier run")

    def slow_down_to(self, delay: float) -> None:
        """Space this host's requests at least `delay` seconds apart (its robots.txt Crawl-delay), the
        request after the robots.txt one included."""
        self._delay = max(self._delay, delay)
        self._ready_at = max(self._ready_at, self._ended_at + self._delay)

    def refusal(self, url: str) -> FetchResult | None:
        """The result for `url` when this host must not be asked now; None when it may."""
        if self._skip_reason is not None:
            return FetchResult(url, Outcome.SKIPPED, detail=self._skip_reason)
        now = time.monotonic()
        if self._defer_until is not None and now < self._defer_until:
            # A wait for this run only (a 429 without Retry-After) asks nothing of the next runs.
            wait = None if self._defer_until == math.inf else self._defer_until - now
            return FetchResult(url, Outcome.DEFERRED, retry_after_seconds=wait, detail=self._defer_reason)
        if self._over_budget(now):
            detail = f"this host's time budget of {self._budget:.0f} s for the run is spent"
            return FetchResult(url, Outcome.DEFERRED, detail=detail)
        return None

    def _over_budget(self, now: float) -> bool:
        """Whether the next request, waited for and spaced like the last ones, would pass the budget."""
        if self._budget is None or not self._spent:
            return False  # the first request to a host is always made
        return self._spent + max(self._ready_at - now, self._delay) > self._budget

    def request(self, url: str, send: Callable[[], FetchResult]) -> FetchResult:
        """`send()` in this host's next slot, learning from its result; or, when the host must not be asked
        now (breaker open, a wait, the budget spent), the result that says why, without a request."""
        refused = self.refusal(url)
        if refused is not None:
            return refused
        with self.turn():
            result = send()
        self.record(result)
        return result

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one request slot: wait out the delay since the previous request to this host ended."""
        started = time.monotonic()
        time.sleep(max(0.0, self._ready_at - started))
        try:
            yield
        finally:
            self._ended_at = time.monotonic()
            self._ready_at = self._ended_at + self._delay
            self._spent += self._ended_at - started

    def record(self, result: FetchResult) -> None:
        """Learn from one response: a Retry-After defers the host, failures may open the breaker."""
        outcome = result.outcome
        if outcome is Outcome.RATE_LIMITED:
            self._rate_limited(result.retry_after_seconds)
        elif outcome in _UNREACHABLE:
            self._skip_reason = f"host unreachable earlier in this run ({outcome})"
        elif outcome.is_transient:
            self._failures += 1
            if self._failures >= self._limit:
                self._skip_reason = f"{self._failures} consecutive transient failures on this host"
        else:
            self._failures = 0

    def _rate_limited(self, seconds: float | None) -> None:
        reason = "the host rate-limited us (429/503)"
        if seconds is None:  # no Retry-After: leave the host alone for this run only
            self._defer(math.inf, reason + " in this run")
            return
        self._defer(seconds, reason + f", Retry-After {seconds:.0f} s")
        self.learnt = RateLimit(self.name, datetime.now(UTC) + timedelta(seconds=seconds), reason)

    def _defer(self, seconds: float, reason: str) -> None:
        self._defer_until = math.inf if seconds == math.inf else time.monotonic() + seconds
        self._defer_reason = reason


class CrawlState:
    """What a run remembers about hosts: their states and robots.txt rules.

    Share one across every fetch of a run (feeds first, then each batch of pages), so a host that failed
    or asked us to stop stays stopped, and robots.txt is fetched once per run. `waits` are the Retry-After
    periods still running from earlier runs, in seconds from now, by host name.
    """

    def __init__(
        self, client: httpx.Client, policy: HttpPolicy, waits: Mapping[str, float] | None = None
    ) -> None:
        self.robots = RobotsCache(client, policy)
        self._policy = policy
        self._waits = dict(waits or {})
        self._hosts: dict[str, HostState] = {}
        self._lock = threading.Lock()

    @property
    def policy(self) -> HttpPolicy:
        return self._policy

    def host(self, name: str) -> HostState:
        with self._lock:
            if name not in self._hosts:
                self._hosts[name] = HostState(name, self._policy, self._waits.get(name))
            return self._hosts[name]

    def rate_limits(self) -> list[RateLimit]:
        """The Retry-After periods hosts asked for in this run, to be remembered by the next runs."""
        with self._lock:
            return [host.learnt for host in self._hosts.values() if host.learnt is not None]


def host_name(url: str) -> str:
    """The host a URL's requests count against (lower case, as httpx connects to it); "" for a URL that
    is never requested (check_url refuses it), so that any string can be grouped by host."""
    if check_url(url) is not None:
        return ""
    return httpx.URL(url).host.lower()


FetchOne = Callable[[HostState, int, str], FetchResult]


def by_host(
    urls: Sequence[str],
    fetch_one: FetchOne,
    state: CrawlState,
    on_result: ResultCallback | None = None,
) -> list[FetchResult]:
    """`fetch_one(host, index, url)` for every URL, one thread per host walking its URLs in order; results
    in input order. Unfetchable URLs are answered bad_url without a request. An unexpected exception in
    any worker cancels the hosts not yet started and propagates."""
    results = _Results(len(urls), on_result)
    groups = _group_by_host(urls, results)

    def run_host(name: str, items: list[tuple[int, str]]) -> None:
        host = state.host(name)
        for index, url in items:
            results.put(index, fetch_one(host, index, url))

    workers = max(1, min(state.policy.max_parallel_hosts, len(groups)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsetl-hosts") as pool:
        futures = [pool.submit(run_host, name, items) for name, items in groups.items()]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results.all()


class _Results:
    """Collects results by input position; calls `on_result` one at a time, whatever thread finishes."""

    def __init__(self, size: int, on_result: ResultCallback | None) -> None:
        self._slots: list[FetchResult | None] = [None] * size
        self._on_result = on_result
        self._lock = threading.Lock()

    def put(self, index: int, result: FetchResult) -> None:
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
        groups.setdefault(host_name(url), []).append((index, url))
    return groups
