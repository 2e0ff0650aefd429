"""Typed records that leave extract/ (what one HTTP fetch ended in), and the rules transform/ shares with it:
which characters no URL may hold, which media types are HTML, and which bytes are binary.

`is_binary` lives here, with the records, because both layers ask it: extract/ of a fetched page's bytes
(refused as not_html before anyone decodes them), transform/ of a page it is handed directly.
"""

from __future__ import annotations

import codecs
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

# The media types of HTML, as FetchResult.content_type names them (and a feed's text constructs do).
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# How much of the head of a body is sniffed (the HTML standard's prescan reads as much).
SNIFF_BYTES = 1024
# Signatures of formats that are never an article page, whatever the Content-Type says.
BINARY_MAGIC = (
    b"%PDF-", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b",
    b"BZh", b"\xfd7zXZ\x00", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"OggS", b"ID3", b"fLaC", b"RIFF",
    b"II*\x00", b"MM\x00*", b"wOFF", b"wOF2", b"\xd0\xcf\x11\xe0", b"\x7fELF", b"\x00\x00\x01\x00",
)  # fmt: skip
# Byte-order marks that explain NUL bytes (UTF-32 LE's mark starts with UTF-16 LE's, so it is covered).
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)


def is_binary(head: bytes, *, stray_nuls: int = 0) -> bool:
    """Whether a body starting with `head` (only its first SNIFF_BYTES are read) is a binary format: the
    signature of one (leading whitespace skipped, as PDF readers do), an ISO-BMFF container (mp4/heic/avif),
    or more than `stray_nuls` NUL bytes that no UTF-16/32 byte-order mark explains."""
    head = head[:SNIFF_BYTES]
    if head.lstrip().startswith(BINARY_MAGIC) or head[4:8] == b"ftyp":
        return True
    return head.count(b"\x00") > stray_nuls and not head.startswith(_WIDE_BOMS)


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
