"""Feed polls: conditional GETs under the same per-host memory as page fetches (extract.hosts).

A feed host's politeness clock, circuit breaker, Retry-After and time budget are the ones its pages use in
the same run, so a host that times out on its first feed is not asked for its other nine, and one that
answers 429 to a feed is not asked for pages either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from newsetl.extract.client import fetch_feed
from newsetl.extract.hosts import CrawlState, HostState, ResultCallback, by_host
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Validators

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """One feed to poll; without validators the GET is unconditional."""

    url: str
    validators: Validators | None = None


def fetch_feeds(
    client: httpx.Client,
    requests: Sequence[FeedRequest],
    policy: HttpPolicy,
    state: CrawlState,
    on_result: ResultCallback | None = None,
) -> list[FetchResult]:
    """One FetchResult per request, in input order: concurrent across hosts, polite within one;
    `on_result` sees each as it completes (serialised)."""

    def fetch_one(host: HostState, index: int, url: str) -> FetchResult:
        result = host.request(url, lambda: fetch_feed(client, url, requests[index].validators, policy))
        logger.info(
            "feed fetched url=%s outcome=%s status=%s bytes=%d elapsed=%.3f detail=%s",
            url, result.outcome, result.status, len(result.body), result.elapsed_seconds, result.detail,
        )  # fmt: skip
        return result

    return by_host([request.url for request in requests], fetch_one, state, on_result)
