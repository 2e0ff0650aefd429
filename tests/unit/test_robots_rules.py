"""How a fetched robots.txt is read: what it allows us, and which crawl delay applies to us."""

from __future__ import annotations

import pytest

from newsetl.extract.records import FetchResult, Outcome
from newsetl.extract.robots import MAX_CRAWL_DELAY, rules_from_fetch

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
        ("User-agent: *\nCrawl-delay: 1.5\n", 1.5),
        ("User-agent: *\nDisallow: /private/\n", 0.0),
    ],
)
def test_the_crawl_delay_for_our_token_is_honoured_up_to_the_cap(robots: str, delay: float) -> None:
    assert _rules(robots).crawl_delay("newsetl") == delay


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/news/2026/ceasefire.html", True),  # the longer Allow beats the shorter Disallow
        ("/opinion/column.html", False),
        ("/news/2026/talks.html?utm_source=rss", False),  # a wildcard pattern
        ("/news/feed.xml", False),  # an end-anchored pattern
        ("/news/feed.xml.html", True),
    ],
)
def test_longest_match_and_wildcards_decide_as_rfc_9309_says(path: str, allowed: bool) -> None:
    robots = "User-agent: *\nDisallow: /\nAllow: /news/\nDisallow: /*?utm_\nDisallow: /*.xml$\n"
    assert _rules(robots).allows(ORIGIN + path, "newsetl") is allowed


def test_no_robots_txt_asks_no_delay() -> None:
    assert _rules("", Outcome.GONE).crawl_delay("newsetl") == 0.0
