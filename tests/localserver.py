"""A real HTTP server on 127.0.0.1 for tests and benchmarks, started in a thread.

Routes map a path (with query) to a fixed `Response` or to a handler callable that writes to the raw
request handler, which is how hostile servers (slow bodies, lies about lengths, redirect loops) are built.
Requests are recorded so tests can assert what was (not) fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class LocalServer:
    """Serves `routes`; unknown paths answer 404. `url(path)` gives the absolute URL of a path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(RecordedRequest(self.path, dict(self.headers.items())))
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

    def start(self) -> LocalServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[LocalServer]:
    server = LocalServer(host).start()
    try:
        yield server
    finally:
        server.stop()
