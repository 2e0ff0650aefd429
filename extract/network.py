"""The socket layer under httpx: SSRF guard at connect time and the per-request total deadline.

Why here and not on the URL string: `127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]` and any
hostname an attacker controls all reach loopback, and a name checked once can resolve differently a moment
later (DNS rebinding). So `GuardedBackend.connect_tcp` resolves the name itself, vets every address, and
connects to the vetted address, never to the name. Every connection httpx opens, including each redirect
hop, goes through it.

The total deadline lives here too: each socket read/write gets `min(its own timeout, time left)`, so a
server dribbling bytes (in the headers or the body) cannot stretch a request past the deadline. Name
resolution is bounded the same way: getaddrinfo takes no timeout and a slow DNS server can block it for
tens of seconds, so it runs in a daemon thread that the request waits on for at most
`min(connect timeout, time left)` before giving up with a ConnectTimeout.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import httpcore
from httpcore import SOCKET_OPTION, NetworkStream, SyncBackend

from newsetl.extract.errors import InputError
from newsetl.extract.records import Outcome

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Same shape as socket.getaddrinfo, so tests can pass a resolver that "rebinds" between calls.
Resolver = Callable[..., list[tuple[Any, ...]]]

# Addresses that embed an IPv4 address: NAT64 (RFC 6052) is global as a prefix but reaches whatever
# IPv4 address it carries.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Monotonic time at which the current request must be done; None outside `deadline()`.
_deadline: ContextVar[float | None] = ContextVar("newsetl_http_deadline", default=None)


class SsrfBlocked(InputError):
    """A connection was refused by the guard because the host resolved to a non-public address.

    Deliberately not an httpcore/httpx exception, so httpx passes it through unmapped to `fetch`.
    """

    outcome = Outcome.SSRF_BLOCKED

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolved to non-public address {address}")
        self.host = host
        self.address = address


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation inside the block to finish within `seconds` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds the current request has left (negative when over), or None outside `deadline()`."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def _bounded(timeout: float | None, exc: type[Exception]) -> float | None:
    """The timeout to give one socket operation: its own, shortened to the time the request has left."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise exc("total deadline exceeded")
    return left if timeout is None else min(timeout, left)


def resolve_within(resolve: Resolver, host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """`resolve(host, port, type=SOCK_STREAM)`, waiting at most `timeout` seconds for its answer.

    The lookup runs in a daemon thread because getaddrinfo cannot be interrupted: on timeout the thread
    is abandoned (it ends when the system resolver gives up) and never holds up interpreter exit. One
    short-lived thread per new connection is cheap next to the round trips that follow it, and unlike a
    fixed pool, a few hung lookups cannot make every other host's lookup wait in a queue.
    """
    if _is_ip_literal(host):  # nothing to look up: no thread, no wait
        return resolve(host, port, type=socket.SOCK_STREAM)
    answer: Future[list[tuple[Any, ...]]] = Future()

    def run() -> None:
        try:
            answer.set_result(resolve(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting request, which decides what it means
            answer.set_exception(exc)

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    try:
        return answer.result(timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host!r} took over {timeout:.3g}s") from None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=64)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address will actually reach (mapped, 6to4, NAT64)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    embedded = [ip.ipv4_mapped, ip.sixtofour]
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in embedded if v4 is not None]


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _is_public(ip.ipv4_mapped)  # ::ffff:a.b.c.d is a.b.c.d on the wire
    # is_global alone misses multicast (224/4 counts as global) and says nothing about embedded IPv4.
    special = ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local
    if not ip.is_global or special or ip.is_private or ip.is_loopback:
        return False
    return all(_is_public(v4) for v4 in _embedded_ipv4(ip))


def is_address_allowed(address: str, allowed_networks: Sequence[str] = ()) -> bool:
    """True when a connection to `address` (an IP literal, optionally with %zone) may be opened."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(ip in net for net in parse_networks(tuple(allowed_networks)) if ip.version == net.version):
        return True
    return _is_public(ip)


class DeadlineStream(NetworkStream):
    """Wraps an httpcore stream so every read/write honours the request's total deadline."""

    def __init__(self, inner: NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> NetworkStream:
        # TLS verifies `server_hostname` (the URL's host), not the IP we connected to: a vetted IP does not
        # weaken certificate checks.
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(SyncBackend):
    """httpcore network backend: resolve, vet every address, connect to the vetted IP itself."""

    def __init__(self, allowed_networks: Sequence[str] = (), resolver: Resolver | None = None) -> None:
        self._allowed = tuple(allowed_networks)
        self._resolve = resolver or socket.getaddrinfo

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        address = self.vetted_address(host, port, timeout)
        bounded = _bounded(timeout, httpcore.ConnectTimeout)  # what the lookup left of the deadline
        stream = super().connect_tcp(address, port, bounded, local_address, socket_options)
        return DeadlineStream(stream)

    def vetted_address(self, host: str, port: int, timeout: float | None = None) -> str:
        """The first resolved address of `host`, or SsrfBlocked if ANY address it resolves to is not public.

        All, not any: a name answering with one public and one private address is hostile or misconfigured,
        and refusing it is cheaper than reasoning about which one a retry would pick.
        `timeout` bounds the lookup (see `resolve_within`); the total deadline shortens it further.
        """
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            infos = resolve_within(self._resolve, host, port, bounded)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise httpcore.ConnectError(f"{host!r} resolved to no address")
        for address in addresses:
            if not is_address_allowed(address, self._allowed):
                raise SsrfBlocked(host, address)
        return addresses[0]
