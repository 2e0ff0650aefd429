"""Typed records that leave extract/ (what one HTTP fetch ended in), and the character rules for URLs that
transform/ applies to the links it records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# C0 controls and DEL: invisible in a link, and CR/LF in a request would inject headers.
URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Lone UTF-16 surrogates (from `surrogateescape` decoding, broken JSON \ud800 escapes, a database) have no
# UTF-8 form: no request can carry one, and no database driver stores one.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Either of the two: a URL holding one is never fetched (client.check_url: bad_url), and a link holding one
# is stored with it percent-encoded (transform.records.escape_url).
URL_UNSAFE = re.compile(f"{URL_CONTROL.pattern}|{LONE_SURROGATE.pattern}")


class Outcome(StrEnum):
    """The closed set of outcomes a feed poll or page fetch ends in; stored verbatim in the database.

    Transient outcomes are worth retrying on a later run; permanent ones are recorded and left alone.
    """

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    GONE = "gone"  # 404 / 410
    CLIENT_ERROR = "client_error"  # other 4xx
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"  # connect/read deadline or the total deadline
    CONNECT_ERROR = "connect_error"  # refused, reset, DNS failure
    TLS_ERROR = "tls_error"
    TOO_LARGE = "too_large"  # decoded body over the cap
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"  # not http(s), unparsable, redirect to another scheme
    SSRF_BLOCKED = "ssrf_blocked"  # resolved to a private/loopback/link-local address
    ROBOTS_DISALLOWED = "robots_disallowed"
    TRUNCATED = "truncated"  # body shorter than Content-Length / connection dropped mid-body
    BAD_ENCODING = "bad_encoding"  # corrupt gzip/deflate, unsupported Content-Encoding
    NOT_HTML = "not_html"  # a page that is a PDF, an image, ...
    NOT_A_FEED = "not_a_feed"  # HTML or other bytes where a feed was expected
    PARSE_ERROR = "parse_error"  # a feed that declares entities, or that nothing could be parsed from
    EXTRACT_EMPTY = "extract_empty"  # no article text found (consent walls, empty pages, too deep trees)
    EXTRACT_TIMEOUT = "extract_timeout"  # killed at the per-document CPU deadline
    SKIPPED = "skipped"  # circuit breaker open for the host during this run
    # Not requested in this run, by choice: the host asked us to wait (its Retry-After, remembered across
    # runs) or its time budget for this run is spent. Tried again when that passes; never a failure.
    DEFERRED = "deferred"
    # The database refused this one row (a DataError or IntegrityError of its own); the rest of its batch
    # was stored. Its detail names the error class.
    LOAD_ERROR = "load_error"

    @property
    def is_transient(self) -> bool:
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        Outcome.RATE_LIMITED,
        Outcome.SERVER_ERROR,
        Outcome.TIMEOUT,
        Outcome.CONNECT_ERROR,
        Outcome.TRUNCATED,
        Outcome.SKIPPED,
        Outcome.DEFERRED,
    }
)


# Outcomes of requests never made: they say nothing about the feed or page, and use up no attempt.
NOT_REQUESTED = frozenset({Outcome.SKIPPED, Outcome.DEFERRED})


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators kept per feed for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one GET ended in. `body` is the decoded (Content-Encoding removed) payload, empty unless ok."""

    url: str
    outcome: Outcome
    final_url: str | None = None
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None  # media type only, lower-case, e.g. "text/html"
    charset: str | None = None  # from the Content-Type header, if any
    validators: Validators = field(default_factory=Validators)
    retry_after_seconds: float | None = None  # parsed and capped Retry-After, when the server sent one
    elapsed_seconds: float = 0.0
    detail: str | None = None  # short human-readable reason; never the only record (outcome is)
