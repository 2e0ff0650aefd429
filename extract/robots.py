"""robots.txt: fetched once per origin per run, bounded like any fetch, read under RFC 9309's rules.

RFC 9309 section 2.3.1: a 2xx robots.txt is parsed; "unavailable" (4xx, or more redirects than we follow)
allows everything; "unreachable" (5xx, 429, timeout, refused, TLS failure, anything else that is not an
answer) disallows everything on that host for this run.

The rules are read by Protego (Scrapy's parser), not urllib.robotparser: news sites lean on what the
standard library gets wrong, `*` and `$` patterns ("Disallow: /*?utm_") and the longest match winning
("Disallow: /" then "Allow: /news/"), where robotparser lets the first matching line win.

A `Crawl-delay` for our token (or `*`) spaces that host's requests at least that far apart, up to
MAX_CRAWL_DELAY: the de-facto extension most news sites that set it mean seriously, honoured by Nutch and
Heritrix the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import httpx
from protego import Protego

from newsetl.extract.client import fetch
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome

logger = logging.getLogger(__name__)

# RFC 9309 2.5: crawlers must parse at least 500 KiB; a longer robots.txt is read up to here (its last,
# probably cut, line dropped), not refused: refusing would disallow the whole host.
ROBOTS_MAX_BYTES = 512 * 1024
# A robots.txt fetch may not hold up a host's pages for the page deadline; this is its own, shorter one.
ROBOTS_DEADLINE = 15.0
# A longer Crawl-delay is cut to this: one host at 30 s per page already needs 25 minutes for a 50-page
# batch, and a run must end (Nutch's fetcher.max.crawl.delay is the same 30 s).
MAX_CRAWL_DELAY = 30.0
_ALLOW_ALL_OUTCOMES = frozenset({Outcome.GONE, Outcome.CLIENT_ERROR, Outcome.TOO_MANY_REDIRECTS})

Turn = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What one origin's robots.txt allows. `source` is how its fetch ended."""

    origin: str
    source: Outcome
    parser: Protego | None = None  # rules from a 2xx robots.txt
    allow_all: bool = False  # no robots.txt (4xx): everything allowed
    retry_after_seconds: float | None = None
    detail: str | None = None

    @property
    def unreachable(self) -> bool:
        """True when robots.txt could not be had at all, so the whole host is disallowed for now."""
        return self.parser is None and not self.allow_all

    def allows(self, url: str, token: str) -> bool:
        if self.parser is not None:
            return bool(self.parser.can_fetch(url, token))
        return self.allow_all

    def crawl_delay(self, token: str) -> float:
        """Seconds the host asks between two requests (0 when it asks nothing), cut to MAX_CRAWL_DELAY."""
        delay = self.parser.crawl_delay(token) if self.parser is not None else None
        return min(float(delay), MAX_CRAWL_DELAY) if delay and float(delay) > 0 else 0.0


def robots_url(url: str) -> tuple[str, str]:
    """(origin, robots.txt URL) of a page URL; scheme, host and port make the origin (RFC 9309 2.3)."""
    parsed = httpx.URL(url)
    origin = str(parsed.copy_with(path="/", query=None, fragment=None)).rstrip("/")
    return origin, origin + "/robots.txt"


def rules_from_fetch(origin: str, result: FetchResult) -> RobotsRules:
    """RFC 9309's reading of a robots.txt fetch result."""
    if result.outcome is Outcome.OK:
        body = result.body
        if len(body) >= ROBOTS_MAX_BYTES:  # cut at the cap: its last line may be half a rule
            body = body[: body.rfind(b"\n") + 1]
        parser = Protego.parse(body.decode("utf-8-sig", errors="replace"))
        return RobotsRules(origin, result.outcome, parser=parser)
    if result.outcome in _ALLOW_ALL_OUTCOMES:
        return RobotsRules(origin, result.outcome, allow_all=True)
    return RobotsRules(
        origin, result.outcome, retry_after_seconds=result.retry_after_seconds, detail=result.detail
    )


class RobotsCache:
    """Rules per origin, each fetched at most once for the life of the cache (a run's CrawlState)."""

    def __init__(self, client: httpx.Client, policy: HttpPolicy) -> None:
        self._client = client
        self._policy = replace(policy, total_deadline=min(policy.total_deadline, ROBOTS_DEADLINE))
        self._rules: dict[str, RobotsRules] = {}
        self._lock = threading.Lock()

    def rules_for(self, url: str, turn: Turn) -> RobotsRules:
        """Rules for `url`'s origin; `turn` wraps the robots.txt request in the host's politeness slot."""
        origin, target = robots_url(url)
        with self._lock:
            cached = self._rules.get(origin)
        if cached is not None:
            return cached
        with turn():
            result = fetch(
                self._client,
                target,
                self._policy,
                max_bytes=ROBOTS_MAX_BYTES,
                accept="text/plain",
                keep_head=True,
            )
        rules = rules_from_fetch(origin, result)
        logger.info(
            "robots fetched origin=%s outcome=%s status=%s policy=%s",
            origin, result.outcome, result.status, _verdict(rules),
        )  # fmt: skip
        with self._lock:
            return self._rules.setdefault(origin, rules)


def _verdict(rules: RobotsRules) -> str:
    if rules.parser is not None:
        return "rules"
    return "allow_all" if rules.allow_all else "disallow_all"
