"""Content-Encoding decoding: capped on decoded bytes, stacked codings, corrupt and unsupported input."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from newsetl.extract.decode import BodyTooLarge, CappedDecoder, DecodeError, parse_codings

TEXT = b"<rss><channel><title>Ceasefire talks</title></channel></rss>\n" * 200


def decode_all(body: bytes, codings: list[str], max_bytes: int = 10**6, chunk: int = 1000) -> bytes:
    decoder = CappedDecoder(codings, max_bytes)
    out = b"".join(decoder.feed(body[i : i + chunk]) for i in range(0, len(body), chunk))
    decoder.finish()
    return out


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_parse_codings_drops_identity_and_normalises():
    assert parse_codings(None) == []
    assert parse_codings(" GZIP , identity,deflate ") == ["gzip", "deflate"]


def test_identity_passes_bytes_through():
    assert decode_all(TEXT, []) == TEXT


@pytest.mark.parametrize(
    ("codings", "body"),
    [
        (["gzip"], gzip.compress(TEXT)),
        (["x-gzip"], gzip.compress(TEXT)),
        (["deflate"], zlib.compress(TEXT)),
        (["deflate"], raw_deflate(TEXT)),  # servers that send raw deflate despite RFC 9110
        (["gzip", "gzip"], gzip.compress(gzip.compress(TEXT))),
        (["deflate", "gzip"], gzip.compress(zlib.compress(TEXT))),
    ],
)
def test_supported_codings_decode(codings, body):
    assert decode_all(body, codings) == TEXT


def test_single_byte_chunks_decode():
    assert decode_all(zlib.compress(TEXT), ["deflate"], chunk=1) == TEXT


def test_concatenated_gzip_members_all_decode():
    assert decode_all(gzip.compress(TEXT) + gzip.compress(b"tail"), ["gzip"]) == TEXT + b"tail"


def test_exactly_at_the_cap_is_fine():
    assert decode_all(gzip.compress(TEXT), ["gzip"], max_bytes=len(TEXT)) == TEXT


def test_one_byte_over_the_cap_is_too_large():
    with pytest.raises(BodyTooLarge):
        decode_all(gzip.compress(TEXT), ["gzip"], max_bytes=len(TEXT) - 1)


@pytest.mark.parametrize("codings", [["gzip"], ["deflate"], ["gzip", "gzip"]])
def test_bomb_never_allocates_much_more_than_the_cap(codings):
    body = b"\0" * (64 * 2**20)
    for coding in codings:
        body = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decode_all(body, codings, max_bytes=2**20, chunk=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # 64 MiB inflated would show here; cap (1 MiB) + a chunk does not


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br"])
def test_unsupported_coding_is_refused(coding):
    with pytest.raises(DecodeError, match="unsupported"):
        CappedDecoder(parse_codings(coding), 1000)


def test_corrupt_gzip_is_a_decode_error():
    with pytest.raises(DecodeError):
        decode_all(b"\x1f\x8b\x08\x00" + b"not really gzip" * 10, ["gzip"])


def test_gzip_cut_short_is_a_decode_error():
    with pytest.raises(DecodeError, match="ends before"):
        decode_all(gzip.compress(TEXT)[:-12], ["gzip"])


def test_empty_body_with_encoding_is_empty():
    assert decode_all(b"", ["gzip"]) == b""


@pytest.mark.parametrize("codings", [[], ["gzip"], ["gzip", "gzip"]])
def test_keep_head_returns_the_first_max_bytes_of_a_body_over_the_cap(codings):
    body = b"".join(b"line %06d\n" % n for n in range(50_000))
    raw = body
    for _ in codings:
        raw = gzip.compress(raw)
    decoder = CappedDecoder(codings, 1000, keep_head=True)
    out = b"".join(decoder.feed(raw[i : i + 4096]) for i in range(0, len(raw), 4096) if not decoder.full)
    decoder.finish()  # the cut is on purpose: not a corrupt stream
    assert decoder.full and out == body[:1000]
