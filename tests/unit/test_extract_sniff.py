"""Content sniffing of pages and the RFC 9309 reading of robots.txt fetch results (pure)."""

from __future__ import annotations

import codecs

import pytest

from newsetl.extract.pages import sniff_page
from newsetl.extract.records import FetchResult, Outcome
from newsetl.extract.robots import robots_url, rules_from_fetch

HTML = b"<!DOCTYPE html><html><head><title>t</title></head><body><p>Aid convoys</p></body></html>"


def page(body: bytes, content_type: str | None) -> FetchResult:
    return FetchResult("http://example.com/a", Outcome.OK, status=200, body=body, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (HTML, "text/html"),
        (HTML, "application/xhtml+xml"),
        (b"", "text/html"),  # empty pages are transform's extract_empty, not a sniffing matter
        (b"\n\n  " + HTML, "application/octet-stream"),  # mislabelled HTML: the bytes decide
        (b"\xef\xbb\xbf<html lang=en><p>x</p></html>", None),
        (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"></html>', "text/xml"),
        ("<html>\u00e9</html>".encode("utf-16"), "text/html"),  # NULs of UTF-16 are not binary
        # ...nor those of UTF-32 behind its BOM, which transform decodes (extract refused it before the merge)
        (codecs.BOM_UTF32_BE + "<html>\u00e9</html>".encode("utf-32-be"), "text/html"),
    ],
)
def test_html_pages_stay_ok(body, content_type):
    assert sniff_page(page(body, content_type)).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"%PDF-1.7\n...", "text/html"),  # a PDF labelled as HTML
        (
            b"\r\n%PDF-1.7\n...",
            "text/html",
        ),  # behind whitespace too, as transform judged it (extract did not)
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "text/html"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", None),
        (b"GIF89a\x01\0", "image/gif"),
        (b"\0\0\0\x18ftypmp42", "text/html"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"PK\x03\x04zipped", "application/octet-stream"),
        (b"\x00\x01\x02\x03random", "application/octet-stream"),
        (b"just some text, no markup", "text/plain"),
        (b'{"items": []}', "application/json"),
        (HTML, "image/png"),  # a label that is never an article page
    ],
)
def test_non_html_is_refused_and_body_dropped(body, content_type):
    result = sniff_page(page(body, content_type))
    assert (result.outcome, result.body) == (Outcome.NOT_HTML, b"")


def test_sniffing_leaves_failures_alone():
    failed = FetchResult("http://example.com/a", Outcome.TIMEOUT)
    assert sniff_page(failed) is failed


def test_robots_url_keeps_scheme_host_and_port():
    assert robots_url("https://Example.com:8443/a/b?c=1#f") == (
        "https://example.com:8443",
        "https://example.com:8443/robots.txt",
    )


def robots_result(outcome: Outcome, body: bytes = b"", status: int | None = None) -> FetchResult:
    return FetchResult("http://example.com/robots.txt", outcome, status=status, body=body)


def test_robots_2xx_rules_apply_to_our_token():
    body = b"User-agent: *\nDisallow: /\n\nUser-agent: newsetl\nDisallow: /private/\n"
    rules = rules_from_fetch("http://example.com", robots_result(Outcome.OK, body, 200))
    assert rules.allows("http://example.com/news/1", "newsetl")
    assert not rules.allows("http://example.com/private/1", "newsetl")
    assert not rules.allows("http://example.com/news/1", "otherbot")


@pytest.mark.parametrize("outcome", [Outcome.GONE, Outcome.CLIENT_ERROR, Outcome.TOO_MANY_REDIRECTS])
def test_robots_unavailable_allows_all(outcome):
    rules = rules_from_fetch("http://example.com", robots_result(outcome))
    assert rules.allows("http://example.com/anything", "newsetl") and not rules.unreachable


@pytest.mark.parametrize(
    "outcome",
    [Outcome.SERVER_ERROR, Outcome.RATE_LIMITED, Outcome.TIMEOUT, Outcome.CONNECT_ERROR, Outcome.TLS_ERROR,
     Outcome.TOO_LARGE, Outcome.TRUNCATED],
)  # fmt: skip
def test_robots_unreachable_disallows_all(outcome):
    rules = rules_from_fetch("http://example.com", robots_result(outcome))
    assert not rules.allows("http://example.com/anything", "newsetl") and rules.unreachable
