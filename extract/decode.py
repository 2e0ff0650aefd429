"""Content-Encoding removed by hand, with a hard cap on decoded bytes.

httpx would happily inflate a 50 KB gzip bomb into gigabytes before we could count them. Here every
zlib call gets `max_length`, so no stage ever produces more than the cap plus one chunk, whatever the
compression ratio. Stacked encodings (`gzip, gzip`) are undone in reverse order, each stage capped.
"""

from __future__ import annotations

import zlib

from newsetl.extract.errors import InputError
from newsetl.extract.records import Outcome

# Codings we advertise in Accept-Encoding and can undo; anything else (br, zstd, compress) is refused
# rather than stored as if it were the document.
SUPPORTED_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})
ACCEPT_ENCODING = "gzip, deflate"


class DecodeError(InputError):
    """The body is not valid in its declared Content-Encoding (corrupt, or an unsupported coding)."""

    outcome = Outcome.BAD_ENCODING


class BodyTooLarge(InputError):
    """Decoding would produce more than the cap."""

    outcome = Outcome.TOO_LARGE


def parse_codings(header: str | None) -> list[str]:
    """Content-Encoding as a list in the order applied by the server; `identity` dropped."""
    if not header:
        return []
    codings = [c.strip().lower() for c in header.split(",")]
    return [c for c in codings if c and c != "identity"]


class _Stage:
    """One zlib inflater; restarts on concatenated gzip members, picks zlib vs raw deflate from the header."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._obj: zlib._Decompress | None = None
        self._pending = b""

    def _start(self, data: bytes) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped (RFC 9110 8.4.1.2) but many servers send raw deflate.
        looks_zlib = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if looks_zlib else -zlib.MAX_WBITS)

    def feed(self, data: bytes, limit: int) -> bytes:
        """Inflate `data`, producing at most `limit` bytes (more input left over means over the cap)."""
        data = self._pending + data
        if self._obj is None and len(data) < 2:
            self._pending = data
            return b""
        self._pending = b""
        self._obj = self._obj or self._start(data)
        try:
            out = self._obj.decompress(data, limit)
            while self._gzip and self._obj.eof and self._obj.unused_data and len(out) < limit:
                rest = self._obj.unused_data  # a further gzip member (RFC 1952 allows several)
                self._obj = self._start(rest)
                out += self._obj.decompress(rest, limit - len(out))
        except zlib.error as exc:
            raise DecodeError(f"corrupt compressed body: {exc}") from exc
        return out

    def finish(self) -> None:
        if self._pending or self._obj is None or not self._obj.eof:
            raise DecodeError("compressed body ends before the end of its stream")


class CappedDecoder:
    """Feed raw body chunks, get decoded bytes; raises BodyTooLarge past `max_bytes` decoded.

    With `keep_head`, it keeps the first `max_bytes` instead of raising, and says `full` once it has them.
    """

    def __init__(self, codings: list[str], max_bytes: int, keep_head: bool = False) -> None:
        unsupported = [c for c in codings if c not in SUPPORTED_CODINGS]
        if unsupported:
            raise DecodeError(f"unsupported Content-Encoding: {', '.join(unsupported)}")
        # The last coding listed was applied last, so it is undone first.
        self._stages = [_Stage(c) for c in reversed(codings)]
        self._max = max_bytes
        self._sizes = [0] * (len(self._stages) + 1)  # bytes out of each stage, last = final output
        self._started = False
        self._keep_head = keep_head
        self.full = False

    def feed(self, chunk: bytes) -> bytes:
        self._started = self._started or bool(chunk)
        for i, stage in enumerate(self._stages):
            # Intermediate stages are capped too: the inner stream of a stacked bomb is itself huge.
            chunk = self._count(i, stage.feed(chunk, self._max - self._sizes[i] + 1))
        return self._count(len(self._stages), chunk)

    def _count(self, index: int, chunk: bytes) -> bytes:
        room = self._max - self._sizes[index]
        if len(chunk) > room:
            if not self._keep_head:
                raise BodyTooLarge(f"decoded body over {self._max} bytes")
            chunk, self.full = chunk[:room], True
        self._sizes[index] += len(chunk)
        return chunk

    def finish(self) -> None:
        """Call at end of body: a compressed stream that did not reach its end is corrupt."""
        if not self._started or self.full:  # a head kept on purpose ends mid-stream
            return  # an empty body with a Content-Encoding header is just an empty body
        for stage in self._stages:
            stage.finish()
