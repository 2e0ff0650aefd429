"""The SSRF guard at connect time, against real servers on 127.0.0.1/127.0.0.2.

127.0.0.2 plays the public internet: the policy allows exactly 127.0.0.2/32, so 127.0.0.1 is "private".
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from newsetl.extract.client import fetch, make_client
from newsetl.extract.pages import fetch_pages
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import Outcome
from tests.localserver import LocalServer, Response, serving

PUBLIC_ONLY = HttpPolicy(allowed_networks=("127.0.0.2/32",), connect_timeout=2.0, read_timeout=2.0)
NOTHING_ALLOWED = HttpPolicy(connect_timeout=2.0, read_timeout=2.0)


@pytest.fixture
def private() -> Iterator[LocalServer]:
    with serving("127.0.0.1", poll_interval=0.02) as running:
        running.routes["/secret"] = Response(b"internal credentials")
        yield running


@pytest.fixture
def public() -> Iterator[LocalServer]:
    with serving("127.0.0.2", poll_interval=0.02) as running:
        yield running


def get(url: str, policy: HttpPolicy = PUBLIC_ONLY, **client_kwargs):
    with make_client(policy, **client_kwargs) as client:
        return fetch(client, url, policy, max_bytes=10_000)


def test_allowed_network_is_reachable(public):
    public.routes["/news"] = Response(b"<html>ok</html>")
    assert get(public.url("/news")).outcome is Outcome.OK


def test_loopback_is_blocked_before_a_byte_is_sent(private):
    result = get(private.url("/secret"))
    assert (result.outcome, result.body) == (Outcome.SSRF_BLOCKED, b"")
    assert private.requests == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost"],
)
def test_other_spellings_of_loopback_are_blocked(private, host):
    result = get(f"http://{host}:{private.port}/secret", NOTHING_ALLOWED)
    # 0177.0.0.1 never gets as far as a socket: httpx refuses the octal quad as an invalid URL.
    expected = Outcome.BAD_URL if host == "0177.0.0.1" else Outcome.SSRF_BLOCKED
    assert (result.outcome, result.body) == (expected, b"")
    assert private.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "10.0.0.1",
        "192.168.0.1",
        "172.16.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
    ],
)
def test_private_ranges_and_metadata_are_blocked_without_connecting(host):
    # conftest refuses non-loopback sockets with ConnectionRefusedError (-> connect_error): ssrf_blocked
    # here proves the guard said no before any connect was attempted.
    assert get(f"http://{host}/latest/meta-data/", NOTHING_ALLOWED).outcome is Outcome.SSRF_BLOCKED


def test_public_url_redirecting_to_private_is_blocked(public, private):
    public.routes["/story"] = Response(b"", 302, {"Location": private.url("/secret")})
    result = get(public.url("/story"))
    assert (result.outcome, result.body, result.final_url) == (
        Outcome.SSRF_BLOCKED,
        b"",
        private.url("/secret"),
    )
    assert public.paths_requested() == ["/story"] and private.requests == []


def test_dns_rebinding_cannot_swap_the_address(public, private):
    """The name is resolved once per connection and the vetted IP is the one connected to."""
    public.routes["/secret"] = Response(b"public copy")
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    with make_client(PUBLIC_ONLY, resolver=rebinding) as client:
        first = fetch(client, f"http://rebind.test:{public.port}/secret", PUBLIC_ONLY, max_bytes=100)
        assert (first.outcome, first.body) == (Outcome.OK, b"public copy")
    with make_client(PUBLIC_ONLY, resolver=rebinding) as client:  # a new connection resolves again
        second = fetch(client, f"http://rebind.test:{public.port}/secret", PUBLIC_ONLY, max_bytes=100)
    assert second.outcome is Outcome.SSRF_BLOCKED
    assert private.requests == []


def test_name_with_any_private_address_is_blocked(public):
    public.routes["/x"] = Response(b"x")

    def mixed(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("127.0.0.2", "127.0.0.1")]

    assert get(f"http://mixed.test:{public.port}/x", resolver=mixed).outcome is Outcome.SSRF_BLOCKED
    assert public.requests == []


def hanging_dns(release: threading.Event, seconds: float = 5.0) -> Callable:
    """A resolver standing in for a DNS server that takes `seconds` to answer (or until `release`)."""

    def resolve(host, port, *args, **kwargs):
        release.wait(seconds)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port))]

    return resolve


@pytest.mark.parametrize(
    "policy",
    [
        HttpPolicy(allowed_networks=("127.0.0.2/32",), total_deadline=1.0),  # connect_timeout 10 s
        HttpPolicy(allowed_networks=("127.0.0.2/32",), connect_timeout=1.0),  # total_deadline 60 s
    ],
    ids=["total-deadline", "connect-timeout"],
)
def test_a_hanging_dns_lookup_times_out_within_the_deadline(public, policy):
    public.routes["/feed"] = Response(b"never fetched")
    release = threading.Event()
    started = time.monotonic()
    try:
        result = get(
            public.url("/feed").replace("127.0.0.2", "slow-dns.test"), policy, resolver=hanging_dns(release)
        )
        elapsed = time.monotonic() - started
    finally:
        release.set()  # let the abandoned lookup thread finish now rather than in 5 s
    assert result.outcome is Outcome.TIMEOUT
    assert elapsed < 3.0  # the resolver alone takes 5 s
    assert public.requests == []


def test_a_slow_dns_answer_within_the_deadline_is_used(public):
    public.routes["/feed"] = Response(b"worth the wait")
    release = threading.Event()
    threading.Timer(0.2, release.set).start()
    url = public.url("/feed").replace("127.0.0.2", "slow-dns.test")
    result = get(
        url, HttpPolicy(allowed_networks=("127.0.0.2/32",), total_deadline=5.0), resolver=hanging_dns(release)
    )
    assert (result.outcome, result.body) == (Outcome.OK, b"worth the wait")


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@127.0.0.2/", "http://127.0.0.2\\@127.0.0.1/", "file:///etc/passwd", "ftp://127.0.0.2/"],
)
def test_odd_urls_are_refused_up_front(url):
    assert get(url).outcome is Outcome.BAD_URL


def test_environment_proxy_is_ignored(public, monkeypatch):
    """trust_env=False: a proxy would do the connecting, and the guard would only ever vet the proxy."""
    with serving("127.0.0.2", poll_interval=0.02) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url(""))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        public.routes["/direct"] = Response(b"direct")
        assert get(public.url("/direct")).body == b"direct"
        assert proxy.requests == []


def test_pages_to_private_hosts_are_ssrf_blocked(public, private):
    public.routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n")
    public.routes["/a"] = Response(b"<html><p>a</p></html>", 200, {"Content-Type": "text/html"})
    policy = HttpPolicy(allowed_networks=("127.0.0.2/32",), per_host_delay=0.0)
    with make_client(policy) as client:
        results = fetch_pages(client, [private.url("/secret"), public.url("/a")], policy)
    assert [r.outcome for r in results] == [Outcome.SSRF_BLOCKED, Outcome.OK]
    assert private.requests == []
