"""One HTTP GET under policy, ending in exactly one `Outcome`: the only place extract/ talks HTTP.

`fetch` never raises for anything the network or the server does; it returns a `FetchResult` whose
`outcome` says what the caller should do. Exceptions of any other class are bugs and propagate.

Mapping, in the order it is decided:

==================================================  ====================  =========
what happened                                       outcome               transient
==================================================  ====================  =========
URL not http(s), unparsable, has userinfo,          bad_url               no
  control characters, lone surrogates, bad port;
  redirect to file:/ftp:/data:/...; request the
  HTTP layer refuses (httpx.InvalidURL,
  UnsupportedProtocol, LocalProtocolError)
host resolves to a non-public address, on any hop   ssrf_blocked          no
  (network.SsrfBlocked, raised at connect time)
DNS/connect/read/write timeout, or the total        timeout               yes
  deadline (httpx.TimeoutException; checked
  between chunks)
TLS handshake or certificate failure                tls_error             no
  (httpx.ConnectError caused by ssl.SSLError)
refused, reset, DNS failure before a response       connect_error         yes
  (httpx.ConnectError, ReadError, WriteError)
server sent broken HTTP before the body             server_error          yes
  (httpx.RemoteProtocolError)
more than policy.max_redirects hops                 too_many_redirects    no
2xx                                                 ok                    -
304                                                 not_modified          -
404, 410                                            gone                  no
429; 503 with a parsable Retry-After                rate_limited          yes
other 5xx; 3xx without Location                     server_error          yes
other 4xx, 1xx, other 3xx                           client_error          no
Content-Encoding other than gzip/deflate/identity   bad_encoding          no
corrupt or unfinished gzip/deflate stream           bad_encoding          no
decoded body over max_bytes (Content-Length or      too_large             no
  counted while decoding)
connection dropped mid-body, body shorter than      truncated             yes
  Content-Length (httpx.ReadError, RemoteProtocolError
  while streaming the body)
==================================================  ====================  =========

Redirects are followed here, not by httpx (the client is built with follow_redirects=False), so every hop
is re-checked: scheme allow-list, the hop cap, and the SSRF guard when its connection is opened.

Validators (ETag, Last-Modified) are kept as the latin-1 reading of the header bytes, the one reading that
maps every byte to one character and back: header values may carry obs-text (0x80-0xFF), and the
conditional GET must send back exactly the bytes the server sent.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from newsetl.extract.decode import ACCEPT_ENCODING, BodyTooLarge, CappedDecoder, DecodeError, parse_codings
from newsetl.extract.network import GuardedBackend, Resolver, SsrfBlocked, deadline, time_left
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import LONE_SURROGATE, URL_CONTROL, FetchResult, Outcome, Validators

logger = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.1"
)
ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024
# A DNS name (LDH plus "_", which exists in the wild) or an IP literal; anything else cannot be a host.
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:.]+$")
# What may not appear in a header value we send: controls but tab, and DEL (the HTTP layer refuses them).
_HEADER_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


# ---------------------------------------------------------------- client


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool swapped for one whose sockets pass the SSRF guard."""

    def __init__(
        self,
        policy: HttpPolicy,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # trust_env=False: SSL_CERT_FILE and friends are configuration, and configuration is read in flows/.
        context = ssl_context or httpx.create_ssl_context(verify=True, trust_env=False)
        super().__init__(verify=context, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy.allowed_networks, resolver),
        )


def make_client(
    policy: HttpPolicy, *, resolver: Resolver | None = None, ssl_context: ssl.SSLContext | None = None
) -> httpx.Client:
    """A client whose every connection passes the SSRF guard. Close it (or use it as a context manager).

    `resolver` (getaddrinfo-shaped) and `ssl_context` exist for tests: a rebinding resolver, a test CA.
    """
    return httpx.Client(
        transport=GuardedTransport(policy, resolver=resolver, ssl_context=ssl_context),
        follow_redirects=False,  # followed by hand in `fetch`, so each hop is checked
        # Proxies from HTTP(S)_PROXY/ALL_PROXY are ignored on purpose: through a proxy the guard would vet
        # the proxy's address, never the target's, and the proxy would happily fetch 169.254.169.254 for
        # us. If a deployment ever needs a proxy, the proxy must do the SSRF filtering itself.
        trust_env=False,
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        timeout=_timeout(policy),
    )


def _timeout(policy: HttpPolicy) -> httpx.Timeout:
    return httpx.Timeout(
        connect=policy.connect_timeout,
        read=policy.read_timeout,
        write=policy.read_timeout,
        pool=policy.connect_timeout,
    )


# ---------------------------------------------------------------- pure helpers


def check_url(url: str) -> str | None:
    """Why `url` must not be fetched, or None when it may be."""
    if URL_CONTROL.search(url):
        return "control characters in URL"
    if LONE_SURROGATE.search(url):
        # Refused by name rather than left to httpx's UTF-8 encoding failing somewhere inside URL parsing.
        return "lone surrogate in URL"
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"unparsable URL: {exc}"
    if parsed.scheme not in ALLOWED_SCHEMES:
        return f"scheme {parsed.scheme!r} not allowed"
    if not parsed.host or not _HOST.match(parsed.raw_host.decode("ascii", "replace")):
        return f"bad host {parsed.host!r}"
    if parsed.userinfo:
        # user:pass@ has no business in a feed or article link, and `a.com\@127.0.0.1` tricks humans.
        return "credentials in URL"
    if port is not None and not 0 < port < 65536:
        return f"bad port {port}"
    return None


def parse_retry_after(value: str | None, cap: float, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now, capped at `cap`; None when absent or unparsable.

    delta-seconds is digits only (so "-5" and "1.5" are garbage); an HTTP-date in the past means 0.
    """
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT by definition
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), cap)


def classify_status(status: int, has_retry_after: bool = False) -> Outcome:
    """Outcome of a final (non-redirect) HTTP status."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 304:
        return Outcome.NOT_MODIFIED
    if status in (404, 410):
        return Outcome.GONE
    if status == 429 or (status == 503 and has_retry_after):
        return Outcome.RATE_LIMITED
    if 500 <= status < 600 or status in REDIRECT_STATUSES:
        return Outcome.SERVER_ERROR  # (a redirect status reaching here had no Location: the server's fault)
    return Outcome.CLIENT_ERROR


def parse_content_type(header: str | None) -> tuple[str | None, str | None]:
    """(media type lower-case, charset lower-case) from a Content-Type header."""
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").lower() or None
    return media.strip().lower() or None, charset


def _response_validators(response: httpx.Response, sent: Validators | None) -> Validators:
    etag, modified = _latin1_header(response, b"etag"), _latin1_header(response, b"last-modified")
    if response.status_code == 304 and sent is not None:
        # A 304 need not repeat the validators; keep what we sent for whatever it leaves out.
        return Validators(etag or sent.etag, modified or sent.last_modified)
    return Validators(etag, modified)


def _latin1_header(response: httpx.Response, name: bytes) -> str | None:
    """The first `name` header, its bytes read as latin-1.

    Not `response.headers.get`: httpx decodes all headers as UTF-8 when they all happen to be valid
    UTF-8, and a value read that way would not encode back to the bytes the server sent.
    """
    for key, value in response.headers.raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _header_bytes(value: str) -> bytes | None:
    """`value` as the latin-1 bytes to send in a request header, or None when it cannot be sent.

    httpx encodes str header values as ASCII and raises UnicodeEncodeError (an exception `fetch` does not
    map) on anything else, so non-ASCII validators go as bytes. A value with no latin-1 form (a lone
    surrogate, say) or with controls the HTTP layer refuses is dropped: the GET is then unconditional,
    which costs one full download, where sending it would fail every poll of the feed.
    """
    try:
        raw = value.strip(" \t").encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not raw or _HEADER_UNSAFE.search(raw):
        return None
    return raw


# ---------------------------------------------------------------- fetch


@dataclass(frozen=True, slots=True)
class _Ask:
    """What the caller asked for, carried across redirect hops."""

    url: str
    max_bytes: int
    validators: Validators | None
    accept: str
    policy: HttpPolicy
    keep_head: bool = False  # past max_bytes: keep the first max_bytes as the body instead of too_large


def fetch(
    client: httpx.Client,
    url: str,
    policy: HttpPolicy,
    *,
    max_bytes: int,
    validators: Validators | None = None,
    accept: str = "*/*",
    keep_head: bool = False,
) -> FetchResult:
    """GET `url` under `policy`, following redirects by hand; never raises for network or HTTP trouble.

    With `validators`, the GET is conditional. With `keep_head`, a body over `max_bytes` is cut there
    rather than refused (robots.txt: RFC 9309 parses the first 500 KiB). The result's validators are the
    response's on ok, the response's (falling back to those sent) on not_modified, and those sent,
    unchanged, on any failure.
    """
    started = time.monotonic()
    ask = _Ask(url, max_bytes, validators, accept, policy, keep_head)
    with deadline(policy.total_deadline):
        result = _follow(client, ask)
    if result.outcome not in (Outcome.OK, Outcome.NOT_MODIFIED):
        result = replace(result, validators=validators or Validators())
    result = replace(result, elapsed_seconds=time.monotonic() - started)
    logger.debug(
        "http fetch url=%s outcome=%s status=%s final_url=%s bytes=%d elapsed=%.3f detail=%s",
        url, result.outcome, result.status, result.final_url, len(result.body), result.elapsed_seconds,
        result.detail,
    )  # fmt: skip
    return result


def fetch_feed(
    client: httpx.Client, url: str, validators: Validators | None, policy: HttpPolicy
) -> FetchResult:
    """Conditional GET of a feed (If-None-Match / If-Modified-Since), capped at policy.max_feed_bytes."""
    return fetch(
        client, url, policy, max_bytes=policy.max_feed_bytes, validators=validators, accept=FEED_ACCEPT
    )


def _follow(client: httpx.Client, ask: _Ask) -> FetchResult:
    current = ask.url
    for _ in range(ask.policy.max_redirects + 1):
        problem = check_url(current)
        if problem is not None:
            return FetchResult(ask.url, Outcome.BAD_URL, final_url=current, detail=problem)
        step = _hop(client, ask, current)
        if isinstance(step, FetchResult):
            return step
        current = step
    detail = f"more than {ask.policy.max_redirects} redirects"
    return FetchResult(ask.url, Outcome.TOO_MANY_REDIRECTS, final_url=current, detail=detail)


def _headers(ask: _Ask) -> dict[str, str | bytes]:
    # Set per request too, so `fetch` behaves the same on a client not built by make_client (tests).
    headers: dict[str, str | bytes] = {
        "User-Agent": ask.policy.user_agent,
        "Accept-Encoding": ACCEPT_ENCODING,
        "Accept": ask.accept,
    }
    if ask.validators is not None:
        headers.update(_conditional_headers(ask.validators))
    return headers


def _conditional_headers(validators: Validators) -> dict[str, str | bytes]:
    """If-None-Match / If-Modified-Since for the validators that can be sent (see `_header_bytes`)."""
    headers: dict[str, str | bytes] = {}
    for name, value in (("If-None-Match", validators.etag), ("If-Modified-Since", validators.last_modified)):
        raw = _header_bytes(value) if value else None
        if raw is not None:
            headers[name] = raw
    return headers


def _hop(client: httpx.Client, ask: _Ask, current: str) -> FetchResult | str:
    """One request: a final FetchResult, or the absolute URL the server redirects to."""
    try:
        request = client.build_request("GET", current, headers=_headers(ask), timeout=_timeout(ask.policy))
        response = client.send(request, stream=True)
    except (httpx.TransportError, httpx.InvalidURL, SsrfBlocked) as exc:
        outcome, detail = _error_outcome(exc)
        return FetchResult(ask.url, outcome, final_url=current, detail=detail)
    try:
        return _handle(response, ask, current)
    finally:
        response.close()


def _handle(response: httpx.Response, ask: _Ask, current: str) -> FetchResult | str:
    status = response.status_code
    location = response.headers.get("location")
    if status in REDIRECT_STATUSES and location:
        try:
            return str(response.url.join(location.strip()))
        except httpx.InvalidURL as exc:
            return FetchResult(ask.url, Outcome.BAD_URL, final_url=current, status=status, detail=str(exc))
    media, charset = parse_content_type(response.headers.get("content-type"))
    retry_after = parse_retry_after(response.headers.get("retry-after"), ask.policy.max_retry_after)
    result = FetchResult(
        url=ask.url,
        outcome=classify_status(status, retry_after is not None),
        final_url=current,
        status=status,
        content_type=media,
        charset=charset,
        validators=_response_validators(response, ask.validators),
        retry_after_seconds=retry_after,
    )
    if result.outcome is not Outcome.OK:
        return result
    return _read_body(response, ask, result)


def _error_outcome(exc: Exception) -> tuple[Outcome, str]:
    """Outcome for an exception raised before any response arrived."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SsrfBlocked):
        return exc.outcome, exc.detail
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.TIMEOUT, detail
    if isinstance(exc, httpx.ConnectError) and _caused_by(exc, ssl.SSLError):
        return Outcome.TLS_ERROR, detail
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Outcome.BAD_URL, detail
    if isinstance(exc, httpx.RemoteProtocolError):
        return Outcome.SERVER_ERROR, detail
    return Outcome.CONNECT_ERROR, detail


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# ---------------------------------------------------------------- body


def _read_body(response: httpx.Response, ask: _Ask, result: FetchResult) -> FetchResult:
    """Stream, decode and cap the body of an ok response."""
    codings = parse_codings(response.headers.get("content-encoding"))
    declared = _content_length(response)
    if not codings and declared is not None and declared > ask.max_bytes and not ask.keep_head:
        detail = f"Content-Length {declared} over {ask.max_bytes}"
        return replace(result, outcome=Outcome.TOO_LARGE, detail=detail)
    try:
        body = _stream(response, CappedDecoder(codings, ask.max_bytes, ask.keep_head))
    except (DecodeError, BodyTooLarge) as exc:
        return replace(result, outcome=exc.outcome, detail=exc.detail)
    except httpx.TimeoutException as exc:
        return replace(result, outcome=Outcome.TIMEOUT, detail=f"{type(exc).__name__}: {exc}")
    except httpx.TransportError as exc:
        return replace(result, outcome=Outcome.TRUNCATED, detail=f"{type(exc).__name__}: {exc}")
    return replace(result, body=body)


def _stream(response: httpx.Response, decoder: CappedDecoder) -> bytes:
    parts: list[bytes] = []
    for chunk in response.iter_raw(CHUNK_SIZE):  # raw: httpx must not inflate for us, uncapped
        parts.append(decoder.feed(chunk))
        if decoder.full:
            return b"".join(parts)
        left = time_left()
        if left is not None and left <= 0:  # a slow-loris body arrives in time for each read, not overall
            raise httpx.ReadTimeout("total deadline exceeded while reading the body")
    decoder.finish()
    return b"".join(parts)


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers.get("content-length", ""))
    except ValueError:
        return None
