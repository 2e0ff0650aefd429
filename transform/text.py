"""Text and date cleaning at the boundary: what leaves here can be stored in SQLite and PostgreSQL alike.

PostgreSQL rejects NUL in text and lone surrogates cannot be encoded as UTF-8 at all; SQLite silently
drops the UTC offset of a datetime. So every string from the open web passes `clean_text` and every
datetime passes `to_utc` before it becomes part of a record (FAULTS.md row 36).
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
# struct_time allows tm_sec 60 and 61 (leap seconds), datetime does not.
_MAX_SECOND = 59


def clean_text(value: str | None) -> str | None:
    """Text safe to store: no NUL or other C0 controls (\\t and \\n stay), no lone surrogates,
    \\r\\n and lone \\r turned into \\n, surrounding whitespace stripped.

    Empty after cleaning -> None, so "absent" has one spelling in the database (no "" vs NULL split).
    Idempotent: clean_text(clean_text(x)) == clean_text(x).
    """
    if value is None:
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    text = _SURROGATES.sub(_REPLACEMENT, text)
    text = text.strip()
    return text or None


def to_utc(value: datetime | time.struct_time | None) -> datetime | None:
    """A UTC-aware datetime, or None.

    Naive datetimes are taken to be UTC already (a feed date without a zone has no better guess, and
    feedparser's own *_parsed values are UTC). Aware ones are converted. A struct_time is what
    feedparser returns (always UTC); one that does not form a valid date gives None, not an error.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return _struct_time_to_utc(value)


def _struct_time_to_utc(value: time.struct_time) -> datetime | None:
    try:
        year, month, day, hour, minute, second = (int(part) for part in tuple(value)[:6])
        return datetime(year, month, day, hour, minute, min(second, _MAX_SECOND), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
