"""TLS failures end in tls_error and are never retried without verification."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsetl.extract.client import fetch, make_client
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import Outcome
from tests.localserver import LocalServer, Response, serving, tls_contexts

POLICY = HttpPolicy(allowed_networks=("127.0.0.0/8",), connect_timeout=2.0, read_timeout=2.0)


@pytest.fixture(scope="module")
def contexts():
    return tls_contexts("127.0.0.1")


@pytest.fixture
def tls_server(contexts) -> Iterator[LocalServer]:
    with serving("127.0.0.1", ssl_context=contexts[0], poll_interval=0.02) as running:
        running.routes["/feed"] = Response(b"<rss/>")
        yield running


def test_trusted_certificate_works_through_the_guard(tls_server, contexts):
    with make_client(POLICY, ssl_context=contexts[1]) as client:
        result = fetch(client, tls_server.url("/feed"), POLICY, max_bytes=100)
    assert (result.outcome, result.body) == (Outcome.OK, b"<rss/>")


def test_untrusted_certificate_is_tls_error_and_nothing_is_fetched(tls_server):
    with make_client(POLICY) as client:  # default trust store: our throwaway CA is not in it
        result = fetch(client, tls_server.url("/feed"), POLICY, max_bytes=100)
    assert (result.outcome, result.body) == (Outcome.TLS_ERROR, b"")
    assert tls_server.requests == []


def test_certificate_for_another_name_is_tls_error(tls_server, contexts):
    url = f"https://localhost:{tls_server.port}/feed"  # the certificate names 127.0.0.1 only
    with make_client(POLICY, ssl_context=contexts[1]) as client:
        assert fetch(client, url, POLICY, max_bytes=100).outcome is Outcome.TLS_ERROR
    assert tls_server.requests == []


def test_https_to_a_plain_http_server_is_tls_error():
    with serving(poll_interval=0.02) as plain, make_client(POLICY) as client:
        result = fetch(client, f"https://127.0.0.1:{plain.port}/", POLICY, max_bytes=100)
    assert result.outcome is Outcome.TLS_ERROR
    assert plain.requests == []
