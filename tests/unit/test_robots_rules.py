"""How a fetched robots.txt is read: which crawl delay applies to us."""

from __future__ import annotations

import pytest

from extract.records import FetchResult, Outcome
from extract.robots import MAX_CRAWL_DELAY, rules_from_fetch

ORIGIN = "https://news.example"


def _rules(text: str, outcome: Outcome = Outcome.OK):
    return rules_from_fetch(ORIGIN, FetchResult(f"{ORIGIN}/robots.txt", outcome, body=text.encode()))


@pytest.mark.parametrize(
    ("robots", "delay"),
    [
        ("User-agent: *\nCrawl-delay: 5\n", 5.0),
        ("User-agent: newsetl\nCrawl-delay: 2\n\nUser-agent: *\nCrawl-delay: 9\n", 2.0),
        ("User-agent: otherbot\nCrawl-delay: 9\n", 0.0),
        ("User-agent: *\nCrawl-delay: 86400\n", MAX_CRAWL_DELAY),
        ("User-agent: *\nCrawl-delay: soon\n", 0.0),
        ("User-agent: *\nDisallow: /private/\n", 0.0),
    ],
)
def test_the_crawl_delay_for_our_token_is_honoured_up_to_the_cap(robots: str, delay: float) -> None:
    assert _rules(robots).crawl_delay("newsetl") == delay


def test_no_robots_txt_asks_no_delay() -> None:
    assert _rules("", Outcome.GONE).crawl_delay("newsetl") == 0.0
