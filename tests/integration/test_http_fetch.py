"""fetch / fetch_feed against a real local server: statuses, caps, encodings, deadlines, redirects.

Each hostile server is a handler on tests.localserver.LocalServer.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from newsetl.extract.client import FEED_ACCEPT, check_url, fetch, fetch_feed, make_client
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import Outcome, Validators
from tests.localserver import LocalServer, Response, serving

POLICY = HttpPolicy(
    allowed_networks=("127.0.0.0/8",), connect_timeout=2.0, read_timeout=2.0, total_deadline=5.0
)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostages</title></channel></rss>'


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """conftest's server, but stopping in 20 ms instead of up to 500 ms: these tests start ~50 servers."""
    with serving(poll_interval=0.02) as running:
        yield running


@pytest.fixture
def client() -> Iterator:
    with make_client(POLICY) as c:
        yield c


def get(client, server: LocalServer, path: str, policy: HttpPolicy = POLICY, max_bytes: int = 2**20):
    return fetch(client, server.url(path), policy, max_bytes=max_bytes)


def raw(status_line: str, headers: dict[str, str], *parts: bytes, delay: float = 0.0) -> Callable:
    """A handler writing exactly what it is told, then closing the connection."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.wfile.write(f"HTTP/1.1 {status_line}\r\n".encode())
            for name, value in headers.items():
                h.wfile.write(f"{name}: {value}\r\n".encode())
            h.wfile.write(b"\r\n")
            for part in parts:
                h.wfile.write(part)
                time.sleep(delay)
        except OSError:  # the client gave up on us, as it should
            return

    return handler


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (200, {}, Outcome.OK),
        (404, {}, Outcome.GONE),
        (410, {}, Outcome.GONE),
        (403, {}, Outcome.CLIENT_ERROR),
        (500, {}, Outcome.SERVER_ERROR),
        (503, {}, Outcome.SERVER_ERROR),
        (429, {"Retry-After": "7"}, Outcome.RATE_LIMITED),
        (503, {"Retry-After": "7"}, Outcome.RATE_LIMITED),
    ],
)
def test_status_mapping(server, client, status, headers, outcome):
    server.routes["/s"] = Response(b"payload", status, headers)
    result = get(client, server, "/s")
    assert (result.outcome, result.status) == (outcome, status)
    assert result.body == (b"payload" if outcome is Outcome.OK else b"")
    assert result.retry_after_seconds == (7.0 if "Retry-After" in headers else None)


def test_absurd_retry_after_is_capped(server, client):
    server.routes["/s"] = Response(b"", 429, {"Retry-After": "31536000"})
    assert get(client, server, "/s").retry_after_seconds == POLICY.max_retry_after


def test_ok_result_carries_media_type_charset_and_final_url(server, client):
    server.routes["/a"] = Response(b"<html></html>", 200, {"Content-Type": "text/html; charset=ISO-8859-1"})
    result = get(client, server, "/a")
    assert (result.content_type, result.charset, result.final_url) == (
        "text/html",
        "iso-8859-1",
        server.url("/a"),
    )
    assert result.elapsed_seconds > 0


def test_request_headers_identify_us_and_limit_encodings(server, client):
    server.routes["/f"] = Response(FEED)
    fetch_feed(client, server.url("/f"), None, POLICY)
    headers = server.requests[0].headers
    assert headers["User-Agent"] == POLICY.user_agent
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["Accept"] == FEED_ACCEPT
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


# ---------------------------------------------------------------- conditional GET


def conditional(etag_on_304: bool) -> Callable:
    def handler(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            if etag_on_304:
                h.send_header("ETag", '"v1"')
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("ETag", '"v1"')
        h.send_header("Last-Modified", "Sat, 10 Jan 2026 12:00:00 GMT")
        h.send_header("Content-Length", str(len(FEED)))
        h.end_headers()
        h.wfile.write(FEED)

    return handler


@pytest.mark.parametrize("etag_on_304", [True, False])
def test_conditional_get_round_trip(server, client, etag_on_304):
    server.routes["/feed"] = conditional(etag_on_304)
    first = fetch_feed(client, server.url("/feed"), None, POLICY)
    assert (first.outcome, first.body) == (Outcome.OK, FEED)
    assert first.validators == Validators('"v1"', "Sat, 10 Jan 2026 12:00:00 GMT")
    second = fetch_feed(client, server.url("/feed"), first.validators, POLICY)
    assert (second.outcome, second.status, second.body) == (Outcome.NOT_MODIFIED, 304, b"")
    assert second.validators == first.validators  # a 304 without ETag keeps what we had
    sent = server.requests[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Sat, 10 Jan 2026 12:00:00 GMT"


def test_stale_etag_gets_full_body_and_new_validators(server, client):
    server.routes["/feed"] = conditional(True)
    result = fetch_feed(client, server.url("/feed"), Validators('"stale"'), POLICY)
    assert result.outcome is Outcome.OK and result.validators.etag == '"v1"'


def test_failed_feed_poll_keeps_validators(server, client):
    server.routes["/feed"] = Response(b"", 502)
    sent = Validators('"v1"', "Sat, 10 Jan 2026 12:00:00 GMT")
    assert fetch_feed(client, server.url("/feed"), sent, POLICY).validators == sent


def etag_echo(etag_bytes: bytes) -> Callable:
    """A feed whose ETag is `etag_bytes` verbatim; answers 304 when If-None-Match brings them back."""
    etag = etag_bytes.decode("latin-1")  # http.server reads and writes header values as latin-1

    def handler(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("ETag", etag)
        h.send_header("Content-Length", str(len(FEED)))
        h.end_headers()
        h.wfile.write(FEED)

    return handler


@pytest.mark.parametrize(
    "etag_bytes",
    [b'"caf\xe9"', b'"caf\xc3\xa9"', b'W/"\xff\x80"'],
    ids=["latin-1-byte", "utf-8-bytes", "high-bytes"],
)
def test_non_ascii_etag_is_sent_back_byte_for_byte(server, client, etag_bytes):
    server.routes["/feed"] = etag_echo(etag_bytes)
    first = fetch_feed(client, server.url("/feed"), None, POLICY)
    assert first.outcome is Outcome.OK
    assert first.validators.etag == etag_bytes.decode("latin-1")
    second = fetch_feed(client, server.url("/feed"), first.validators, POLICY)
    assert (second.outcome, second.status) == (Outcome.NOT_MODIFIED, 304)
    assert second.validators == first.validators
    assert server.requests[1].headers["If-None-Match"].encode("latin-1") == etag_bytes


@pytest.mark.parametrize(
    "validators",
    [
        Validators('"v\ud800"', None),  # lone surrogate: no latin-1 (or UTF-8) form at all
        Validators('"v\x00"', None),
        Validators('"v1"\r\nX-Injected: yes', None),  # header injection
        Validators(None, "Sat, 10 Jan 2026\x00 12:00:00 GMT"),
        Validators("\u20ac", "\x7f"),  # beyond latin-1; DEL
        Validators("  ", "\t"),  # nothing left to send once the padding is gone
    ],
)
def test_validators_that_cannot_be_sent_are_skipped(server, client, validators):
    server.routes["/feed"] = Response(FEED)
    result = fetch_feed(client, server.url("/feed"), validators, POLICY)
    assert (result.outcome, result.body) == (Outcome.OK, FEED)
    sent = server.requests[0].headers
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent
    assert "X-Injected" not in sent


def test_a_bad_validator_does_not_take_the_good_one_with_it(server, client):
    server.routes["/feed"] = conditional(True)
    validators = Validators('"v1"', "Sat, 10 Jan 2026\x00 12:00:00 GMT")
    assert fetch_feed(client, server.url("/feed"), validators, POLICY).outcome is Outcome.NOT_MODIFIED
    sent = server.requests[0].headers
    assert sent["If-None-Match"] == '"v1"' and "If-Modified-Since" not in sent


def test_tab_inside_a_validator_is_kept(server, client):
    server.routes["/feed"] = Response(FEED)
    fetch_feed(client, server.url("/feed"), Validators('"a\tb"'), POLICY)
    assert server.requests[0].headers["If-None-Match"] == '"a\tb"'


# ---------------------------------------------------------------- deadlines


def test_slow_loris_body_hits_the_total_deadline(server, client):
    server.routes["/slow"] = raw("200 OK", {"Content-Length": "1000"}, *([b"x"] * 1000), delay=0.05)
    policy = HttpPolicy(allowed_networks=("127.0.0.0/8",), read_timeout=2.0, total_deadline=1.0)
    started = time.monotonic()
    result = get(client, server, "/slow", policy)
    assert result.outcome is Outcome.TIMEOUT and result.body == b""
    assert 0.9 < time.monotonic() - started < 1.8


def test_slow_loris_headers_hit_the_total_deadline(server, client):
    server.routes["/slow"] = raw("200 OK", {}, *([b"X-Drip: y\r\n"] * 1000), delay=0.05)
    policy = HttpPolicy(allowed_networks=("127.0.0.0/8",), read_timeout=2.0, total_deadline=1.0)
    started = time.monotonic()
    assert get(client, server, "/slow", policy).outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 1.8


def test_server_that_never_answers_times_out(server, client):
    release = threading.Event()
    server.routes["/hang"] = lambda h: release.wait(5)
    policy = HttpPolicy(allowed_networks=("127.0.0.0/8",), read_timeout=0.5)
    try:
        started = time.monotonic()
        assert get(client, server, "/hang", policy).outcome is Outcome.TIMEOUT
        assert time.monotonic() - started < 1.5
    finally:
        release.set()


def test_connection_refused_is_connect_error(client):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(client, f"http://127.0.0.1:{port}/", POLICY, max_bytes=100)
    assert result.outcome is Outcome.CONNECT_ERROR


def test_dns_failure_is_connect_error():
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with make_client(POLICY, resolver=no_dns) as client:
        result = fetch(client, "http://feeds.example.invalid/rss", POLICY, max_bytes=100)
    assert result.outcome is Outcome.CONNECT_ERROR


def test_server_closing_without_response_is_not_ok(server, client):
    def hang_up(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True

    server.routes["/bye"] = hang_up
    assert get(client, server, "/bye").outcome is Outcome.SERVER_ERROR


# ---------------------------------------------------------------- size caps


def test_content_length_over_cap_is_too_large_without_reading(server, client):
    server.routes["/big"] = Response(b"x" * 5000)
    result = get(client, server, "/big", max_bytes=4999)
    assert (result.outcome, result.body) == (Outcome.TOO_LARGE, b"")


def test_endless_body_without_length_is_cut_at_the_cap(server, client):
    server.routes["/endless"] = raw("200 OK", {"Connection": "close"}, *([b"x" * 65536] * 400))
    started = time.monotonic()
    result = get(client, server, "/endless", max_bytes=2**20)
    assert result.outcome is Outcome.TOO_LARGE
    assert time.monotonic() - started < 2.0


def test_body_exactly_at_cap_is_ok(server, client):
    server.routes["/fit"] = raw("200 OK", {"Connection": "close"}, b"x" * 1000)
    assert get(client, server, "/fit", max_bytes=1000).body == b"x" * 1000


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(FEED, mtime=0)),
        ("deflate", zlib.compress(FEED)),
        ("gzip, gzip", gzip.compress(gzip.compress(FEED, mtime=0), mtime=0)),
        ("identity", FEED),
    ],
    ids=["gzip", "deflate", "gzip-twice", "identity"],  # the same names in every test process
)
def test_supported_encodings_are_decoded(server, client, coding, body):
    server.routes["/enc"] = Response(body, 200, {"Content-Encoding": coding})
    result = get(client, server, "/enc")
    assert (result.outcome, result.body) == (Outcome.OK, FEED)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip, gzip"])
def test_compression_bomb_is_too_large(server, client, coding):
    body = b"\0" * (32 * 2**20)
    for step in coding.split(", "):
        body = gzip.compress(body) if step == "gzip" else zlib.compress(body)
    server.routes["/bomb"] = Response(body, 200, {"Content-Encoding": coding})
    result = get(client, server, "/bomb", max_bytes=2**20)
    assert (result.outcome, result.body) == (Outcome.TOO_LARGE, b"")


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, br"])
def test_unknown_encoding_is_bad_encoding(server, client, coding):
    server.routes["/br"] = Response(b"\x8b\x02\x80hello\x03", 200, {"Content-Encoding": coding})
    assert get(client, server, "/br").outcome is Outcome.BAD_ENCODING


@pytest.mark.parametrize(
    "body",
    [b"\x1f\x8b\x08\x00corrupt" * 20, gzip.compress(FEED, mtime=0)[:-10]],
    ids=["corrupt", "unfinished"],
)
def test_corrupt_or_unfinished_gzip_is_bad_encoding(server, client, body):
    server.routes["/bad"] = Response(body, 200, {"Content-Encoding": "gzip"})
    assert get(client, server, "/bad").outcome is Outcome.BAD_ENCODING


# ---------------------------------------------------------------- truncation


def test_body_shorter_than_content_length_is_truncated(server, client):
    server.routes["/short"] = raw("200 OK", {"Content-Length": "1000"}, b"x" * 10)
    result = get(client, server, "/short")
    assert (result.outcome, result.body) == (Outcome.TRUNCATED, b"")


def test_chunked_body_cut_mid_chunk_is_truncated(server, client):
    server.routes["/chunked"] = raw("200 OK", {"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n40\r\nabc")
    assert get(client, server, "/chunked").outcome is Outcome.TRUNCATED


def test_gzip_body_cut_by_the_connection_is_truncated(server, client):
    body = gzip.compress(FEED)
    headers = {"Content-Encoding": "gzip", "Content-Length": str(len(body))}
    server.routes["/gz"] = raw("200 OK", headers, body[:20])
    assert get(client, server, "/gz").outcome is Outcome.TRUNCATED


# ---------------------------------------------------------------- redirects


def redirect(server: LocalServer, path: str, location: str, status: int = 302) -> None:
    server.routes[path] = Response(b"", status, {"Location": location})


def test_redirects_are_followed_and_final_url_kept(server, client):
    redirect(server, "/old", "/mid", 301)
    redirect(server, "/mid", server.url("/new"), 308)
    server.routes["/new"] = Response(FEED)
    result = get(client, server, "/old")
    assert (result.outcome, result.body, result.final_url) == (Outcome.OK, FEED, server.url("/new"))
    assert result.url == server.url("/old")


def test_five_hops_are_allowed_six_are_not(server, client):
    for i in range(6):
        redirect(server, f"/r{i}", f"/r{i + 1}")
    server.routes["/r6"] = Response(b"end")
    assert get(client, server, "/r1").outcome is Outcome.OK  # r1 -> r6: five hops
    result = get(client, server, "/r0")
    assert result.outcome is Outcome.TOO_MANY_REDIRECTS
    assert server.paths_requested().count("/r6") == 1


def test_redirect_loop_stops_at_the_cap(server, client):
    redirect(server, "/a", "/b")
    redirect(server, "/b", "/a")
    assert get(client, server, "/a").outcome is Outcome.TOO_MANY_REDIRECTS
    assert len(server.requests) == POLICY.max_redirects + 1


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "data:text/html,hi", "gopher://x/"]
)
def test_redirect_to_another_scheme_is_bad_url(server, client, location):
    redirect(server, "/go", location)
    result = get(client, server, "/go")
    assert result.outcome is Outcome.BAD_URL and result.body == b""
    assert server.paths_requested() == ["/go"]


def test_redirect_without_location_is_server_error(server, client):
    server.routes["/nowhere"] = Response(b"", 302)
    assert get(client, server, "/nowhere").outcome is Outcome.SERVER_ERROR


def test_redirect_status_with_retry_after_on_final_hop(server, client):
    redirect(server, "/moved", "/limited")
    server.routes["/limited"] = Response(b"", 429, {"Retry-After": "60"})
    result = get(client, server, "/moved")
    assert (result.outcome, result.retry_after_seconds, result.final_url) == (
        Outcome.RATE_LIMITED,
        60.0,
        server.url("/limited"),
    )


# ---------------------------------------------------------------- URLs refused before any request


@pytest.mark.parametrize("path", ["/caf\ud800", "/a?q=\udfff", "/a#\udc80"])
def test_url_with_a_lone_surrogate_is_bad_url_without_a_request(server, client, path):
    result = get(client, server, path)
    assert (result.outcome, result.body, result.detail) == (Outcome.BAD_URL, b"", "lone surrogate in URL")
    assert server.requests == []


def test_lone_surrogate_in_the_host_is_refused_by_name():
    assert check_url("http://news\udc80.example/rss") == "lone surrogate in URL"


# ---------------------------------------------------------------- local paths


@pytest.mark.parametrize("url", ["/etc/passwd", "file:///etc/passwd", "feeds/local.xml", "C:\\feeds\\a.xml"])
def test_local_paths_are_never_read(client, url):
    result = fetch_feed(client, url, None, POLICY)
    assert (result.outcome, result.body) == (Outcome.BAD_URL, b"")
