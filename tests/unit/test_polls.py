"""transform.polls: a feed's fetch judged, with the Content-Type extract/ parsed handed on as it is."""

from __future__ import annotations

from newsetl.extract.records import FetchResult, Outcome
from newsetl.transform.polls import judge_poll
from newsetl.transform.records import FeedState

FEED_URL = "https://news.example.org/feeds/all.rss"
# No XML declaration: only the HTTP charset says these bytes are KOI8-R.
KOI8_FEED = (
    "<rss version='2.0'><channel><title>T</title>"
    "<item><title>Привет</title><link>https://news.example.org/a</link></item></channel></rss>"
).encode("koi8-r")


def fetched(charset: str | None) -> FetchResult:
    return FetchResult(
        FEED_URL,
        Outcome.OK,
        status=200,
        body=KOI8_FEED,
        content_type="application/rss+xml",
        charset=charset,
    )


def test_the_http_charset_of_the_fetch_decodes_the_feed():
    feed = FeedState(id=1, url=FEED_URL, etag=None, last_modified=None, body_hash=None)
    polled = judge_poll(feed, fetched("koi8-r"), full=False)
    assert polled.poll.outcome is Outcome.OK
    assert [entry.title for entry in polled.entries] == ["Привет"]


def test_without_the_charset_the_same_bytes_read_otherwise():
    # The counterpart that shows the charset above is what decoded the title (feedparser guesses cp1252).
    feed = FeedState(id=1, url=FEED_URL, etag=None, last_modified=None, body_hash=None)
    polled = judge_poll(feed, fetched(None), full=False)
    assert [entry.title for entry in polled.entries] != ["Привет"]
