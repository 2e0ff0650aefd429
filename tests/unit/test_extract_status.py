"""Pure pieces of the client: status mapping, Retry-After, Content-Type, URL checks."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from newsetl.extract.client import check_url, classify_status, fetch, parse_content_type, parse_retry_after
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import Outcome, Validators
from newsetl.transform.records import escape_url

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "retry", "outcome"),
    [
        (200, False, Outcome.OK),
        (203, False, Outcome.OK),
        (304, False, Outcome.NOT_MODIFIED),
        (404, False, Outcome.GONE),
        (410, False, Outcome.GONE),
        (429, False, Outcome.RATE_LIMITED),
        (503, True, Outcome.RATE_LIMITED),
        (503, False, Outcome.SERVER_ERROR),
        (500, True, Outcome.SERVER_ERROR),
        (502, False, Outcome.SERVER_ERROR),
        (400, False, Outcome.CLIENT_ERROR),
        (401, False, Outcome.CLIENT_ERROR),
        (403, False, Outcome.CLIENT_ERROR),
        (451, False, Outcome.CLIENT_ERROR),
        (302, False, Outcome.SERVER_ERROR),  # a redirect that reached here had no Location
        (300, False, Outcome.CLIENT_ERROR),
    ],
)
def test_classify_status(status, retry, outcome):
    assert classify_status(status, retry) is outcome


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("99999999999999999999", 86400.0),  # absurd: capped
        ("Sat, 10 Jan 2026 12:02:00 GMT", 120.0),
        ("Saturday, 10-Jan-26 12:02:00 GMT", 120.0),  # RFC 850 form
        ("Sat Jan 10 12:02:00 2026", 120.0),  # asctime form
        ("Fri, 01 Jan 2100 00:00:00 GMT", 86400.0),
        ("Sat, 10 Jan 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, 86400.0, now=NOW) == seconds


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("text/html; charset=UTF-8", ("text/html", "utf-8")),
        ('Application/RSS+XML; charset="ISO-8859-1"', ("application/rss+xml", "iso-8859-1")),
        ("text/html", ("text/html", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_content_type(header, parsed):
    assert parse_content_type(header) == parsed


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "ftp://example.com/feed.xml",
        "data:text/html,<p>hi",
        "javascript:alert(1)",
        "gopher://example.com/",
        "http:///nohost",
        "http://user:pw@example.com/feed",
        "http://example.com\\@127.0.0.1/",
        "http://exa mple.com/",
        "http://example.com/\r\nX-Injected: 1",
        "http://example.com:99999/",
        "http://0177.0.0.1/",  # httpx refuses octal dotted quads outright
        "",
    ],
)
def test_check_url_refuses(url):
    assert check_url(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/feed",
        "HTTPS://Example.COM:8443/a b?q=1",
        "http://[2001:db8::1]/",
        "http://a_b.example/",
    ],
)
def test_check_url_accepts(url):
    assert check_url(url) is None


# Every character no URL may hold as such: the C0 controls, DEL, and lone surrogates at both ends.
URL_UNSAFE_CHARACTERS = [chr(code) for code in range(0x20)] + ["\x7f", "\ud800", "\udfff"]


@pytest.mark.parametrize("character", URL_UNSAFE_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_what_check_url_refuses_is_what_escape_url_encodes(character):
    # One definition serves both: the link a feed gave is never fetched, and its stored form is a URL.
    url = f"http://example.com/a{character}b"
    assert check_url(url) is not None
    assert check_url(escape_url(url)) is None


@pytest.mark.parametrize("character", ["\n", "\x00", "\x7f", "\udc80"], ids=repr)
def test_a_url_with_a_control_or_a_lone_surrogate_is_never_requested(character):
    requested: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = fetch(client, f"http://example.com/a{character}b", HttpPolicy(), max_bytes=100)
    assert (result.outcome, requested) == (Outcome.BAD_URL, [])


def mock_client(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        # stream=, not content=: httpx pre-reads `content`, and fetch streams the raw body itself
        return httpx.Response(status, headers=headers or {}, stream=httpx.ByteStream(body))

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry"),
    [
        (200, {}, Outcome.OK, None),
        (410, {}, Outcome.GONE, None),
        (429, {"Retry-After": "30"}, Outcome.RATE_LIMITED, 30.0),
        (503, {"Retry-After": "999999999"}, Outcome.RATE_LIMITED, 86400.0),
        (503, {"Retry-After": "garbage"}, Outcome.SERVER_ERROR, None),
        (418, {}, Outcome.CLIENT_ERROR, None),
    ],
)
def test_fetch_maps_statuses(status, headers, outcome, retry):
    with mock_client(status, headers, b"body") as client:
        result = fetch(client, "http://example.com/", HttpPolicy(), max_bytes=100)
    assert (result.outcome, result.status, result.retry_after_seconds) == (outcome, status, retry)
    assert result.body == (b"body" if outcome is Outcome.OK else b"")


def test_failed_fetch_echoes_the_validators_it_was_given():
    sent = Validators('"v1"', "Sat, 10 Jan 2026 12:00:00 GMT")
    with mock_client(500, {"ETag": '"other"'}) as client:
        result = fetch(client, "http://example.com/", HttpPolicy(), max_bytes=100, validators=sent)
    assert result.validators == sent
