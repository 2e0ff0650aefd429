"""Text and date cleaning at the boundary: `clean_text` is the form transform/ gives the text it extracts
(records.storable, stripped, empty as None), and every datetime passes `to_utc` (SQLite silently drops the
UTC offset of a datetime, so none may arrive without one), date strings through `parse_date`.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

from newsetl.transform.records import storable

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


def parse_date(value: str | None) -> datetime | None:
    """A date string as `to_utc` gives it, or None when it reads as no date.

    RFC 3339 / ISO 8601 first (trafilatura's output, and JSON Feed's format: Python 3.11's fromisoformat
    reads it, "Z" included), else RFC 822, the form of RSS, which feed generators reusing their RSS date
    code put in JSON Feeds too (corpus: elastic 1.1).
    """
    if not value:
        return None
    try:
        return to_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        pass
    try:
        return to_utc(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
