"""The SSRF guard's address rule, on addresses (the connect-time path is in tests/integration)."""

from __future__ import annotations

import pytest

from extract.network import is_address_allowed

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
