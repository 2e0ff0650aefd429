"""The SSRF guard's address rule, on addresses, and its name lookup under a deadline (the connect-time
path against real servers is in tests/integration)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpcore
import pytest

from newsetl.extract.network import GuardedBackend, deadline, is_address_allowed, resolve_within

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2001:db8::1",  # documentation
]
PUBLIC = ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address):
    assert not is_address_allowed(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert is_address_allowed(address)


def test_allowed_networks_exempt_exactly_their_range():
    allowed = ("127.0.0.2/32",)
    assert is_address_allowed("127.0.0.2", allowed)
    assert not is_address_allowed("127.0.0.1", allowed)
    assert not is_address_allowed("::ffff:127.0.0.1", allowed)


def test_allowed_networks_ignore_the_other_ip_version():
    assert not is_address_allowed("::1", ("127.0.0.0/8",))
    assert is_address_allowed("::1", ("::1/128",))


# --- name resolution under a deadline -----------------------------------------------------------------


def _answer(address: str) -> Callable:
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


def _hanging(release: threading.Event) -> Callable:
    def resolve(host, port, *args, **kwargs):
        release.wait(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    return resolve


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # the abandoned lookup thread ends with the test


def test_resolve_within_returns_the_resolvers_answer():
    infos = resolve_within(_answer("93.184.215.14"), "news.example", 443, 1.0)
    assert infos[0][4] == ("93.184.215.14", 443)


def test_resolve_within_passes_the_resolvers_error_on():
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(socket.gaierror):
        resolve_within(no_such_name, "nowhere.example", 80, 1.0)


def test_resolve_within_gives_up_with_a_connect_timeout(release):
    started = time.monotonic()
    with pytest.raises(httpcore.ConnectTimeout):
        resolve_within(_hanging(release), "slow.example", 80, 0.2)
    assert time.monotonic() - started < 1.0


def test_vetted_address_lookup_is_cut_short_by_the_total_deadline(release):
    backend = GuardedBackend(resolver=_hanging(release))
    started = time.monotonic()
    with deadline(0.2), pytest.raises(httpcore.ConnectTimeout):
        backend.vetted_address("slow.example", 80)
    assert time.monotonic() - started < 1.0


def test_vetted_address_lookup_is_cut_short_by_the_connect_timeout(release):
    backend = GuardedBackend(resolver=_hanging(release))
    started = time.monotonic()
    with pytest.raises(httpcore.ConnectTimeout):
        backend.vetted_address("slow.example", 80, timeout=0.2)
    assert time.monotonic() - started < 1.0


def test_vetted_address_past_the_deadline_does_not_even_resolve():
    calls: list[str] = []

    def counting(host, port, *args, **kwargs):
        calls.append(host)
        return _answer("93.184.215.14")(host, port)

    with deadline(-1.0), pytest.raises(httpcore.ConnectTimeout):
        GuardedBackend(resolver=counting).vetted_address("news.example", 80)
    assert calls == []
