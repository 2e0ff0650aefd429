"""A real HTTP server on 127.0.0.1 for tests and benchmarks, started in a thread.

Routes map a path (with query) to a fixed `Response` or to a handler callable that writes to the raw
request handler, which is how hostile servers (slow bodies, lies about lengths, redirect loops) are built.
Requests are recorded so tests can assert what was (not) fetched.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up on a kept-alive connection (a finished run's process exiting) are normal here."""

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() on arrival, for benchmarks that time what a request answers


class LocalServer:
    """Serves `routes`; unknown paths answer 404. `url(path)` gives the absolute URL of a path.

    With `ssl_context` (see `tls_contexts`) it serves HTTPS and `url()` says so.
    """

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]
        self.scheme = "http"
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real web servers set it. Without it, each response on a kept-alive connection
            # (headers, then the body: two writes) waited some 40 ms for the client's delayed ACK (Nagle's
            # algorithm): 45 ms a request instead of 1, which 140 feeds polled twice pay hundreds of times.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                arrived = RecordedRequest(self.path, dict(self.headers.items()), time.monotonic())
                with server._lock:
                    server.requests.append(arrived)
                route = server.routes.get(self.path)
                if route is None:
                    route = Response(b"not found", 404)
                if callable(route):
                    route(self)
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if not any(n.lower() == "content-length" for n in route.headers):
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                return

        return _Handler

    def start(self, poll_interval: float = 0.5) -> LocalServer:
        """Serve in a daemon thread; `stop()` waits up to `poll_interval` for the loop to notice."""
        threading.Thread(target=self._httpd.serve_forever, args=(poll_interval,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def serving(
    host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None, poll_interval: float = 0.5
) -> Iterator[LocalServer]:
    server = LocalServer(host, ssl_context).start(poll_interval)
    try:
        yield server
    finally:
        server.stop()


def tls_contexts(ip: str = "127.0.0.1") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a throwaway CA and a leaf certificate for `ip`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    Key = ec.EllipticCurvePrivateKey

    def certificate(subject: str, key: Key, issuer: str, signer: Key, ca: bool) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("newsetl test CA", ca_key, "newsetl test CA", ca_key, ca=True)
    leaf_cert = certificate(ip, leaf_key, "newsetl test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with tempfile.NamedTemporaryFile(suffix=".pem") as chain:
        chain.write(key_pem + leaf_cert.public_bytes(pem))
        chain.flush()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(chain.name)
    client = ssl.create_default_context(cadata=ca_cert.public_bytes(pem).decode("ascii"))
    return server, client
