"""Text and date cleaning at the boundary: what leaves here can be stored in SQLite and PostgreSQL alike.

PostgreSQL refuses NUL in text, lone surrogates cannot be encoded as UTF-8 at all (both drivers raise),
and SQLite silently drops the UTC offset of a datetime. `storable` is the one definition of what a string
must look like to reach either database the same way; load/ applies it to every text column, whatever
field the string came from (feed fields, links, header values, extracted text, error details), so a new
field cannot forget it. `clean_text` is the stricter form transform/ gives the text it extracts, and
every datetime passes `to_utc`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

# C0 controls other than \t and \n: invisible, illegal in XML 1.0, NUL is refused by PostgreSQL.
# \r is not here because line endings are normalised to \n before this runs.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")
# Lone UTF-16 surrogates (from `surrogateescape` decoding or broken JSON \ud800 escapes) cannot be
# encoded as UTF-8, so a database driver raises on them; U+FFFD keeps a visible mark of the damage.
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"
# What a stored link must not hold as such: controls and lone surrogates.
_URL_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# struct_time allows tm_sec 60 and 61 (leap seconds), datetime does not.
_MAX_SECOND = 59


def storable(value: str) -> str:
    """`value` as both databases store and return it unchanged: \\r\\n and lone \\r become \\n, other C0
    controls but \\t and \\n are removed, lone surrogates become U+FFFD. Nothing else changes (no strip),
    so clean text passes through untouched. Idempotent."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATES.sub(_REPLACEMENT, _CONTROLS.sub("", text))


def escape_url(url: str) -> str:
    """A link as both databases can store it: controls and lone surrogates percent-encoded
    (as a browser would send them), so the stored form still shows what the feed gave, byte for byte.
    Such a link is never fetched (extract/ refuses it as bad_url); this is only how it is recorded."""
    return _URL_UNSAFE.sub(_percent_encode, url)


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def clean_text(value: str | None) -> str | None:
    """Text safe to store: no NUL or other C0 controls (\\t and \\n stay), no lone surrogates,
    \\r\\n and lone \\r turned into \\n, surrounding whitespace stripped.

    Empty after cleaning -> None, so "absent" has one spelling in the database (no "" vs NULL split).
    Idempotent: clean_text(clean_text(x)) == clean_text(x).
    """
    if value is None:
        return None
    text = storable(value).strip()
    return text or None


def to_utc(value: datetime | time.struct_time | None) -> datetime | None:
    """A UTC-aware datetime, or None.

        Naive datetimes are taken to be UTC already (a feed date without a zone has no better guess, and
        feedparser's own *_parsed values are UTC). Aware ones are converted. A struct_time is what
        feedparser returns (always UTC). A value that forms no valid date, or no date within years 1-9999 once
    in UTC, gives None, not an error.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it: no such instant in UTC
            return None
    return _struct_time_to_utc(value)


def _struct_time_to_utc(value: time.struct_time) -> datetime | None:
    try:
        year, month, day, hour, minute, second = (int(part) for part in tuple(value)[:6])
        return datetime(year, month, day, hour, minute, min(second, _MAX_SECOND), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
