"""storable, escape_url, clean_text, to_utc and parse_date: what may reach SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsetl.transform.records import escape_url, storable
from newsetl.transform.text import clean_text, parse_date, to_utc

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def test_nul_and_other_controls_are_dropped_tab_and_newline_kept() -> None:
    assert clean_text("a\x00b\x01c\x1fd\te\nf") == "abcd\te\nf"


def test_line_endings_become_newlines() -> None:
    assert clean_text("one\r\ntwo\rthree") == "one\ntwo\nthree"


def test_lone_surrogate_becomes_replacement_character() -> None:
    cleaned = clean_text("bad \udc80 byte")
    assert cleaned == "bad \ufffd byte"
    cleaned.encode("utf-8")  # would raise on a surrogate


def test_surrounding_whitespace_is_stripped() -> None:
    assert clean_text("  \n title \t ") == "title"


def test_empty_after_cleaning_is_none() -> None:
    assert clean_text(None) is None
    assert clean_text("") is None
    assert clean_text(" \x00\r\n\t ") is None


@given(st.text())
def test_clean_text_never_leaves_controls_or_surrogates(value: str) -> None:
    cleaned = clean_text(value)
    assert cleaned is None or (cleaned and not _FORBIDDEN.search(cleaned))
    if cleaned is not None:
        cleaned.encode("utf-8")


@given(st.text())
def test_clean_text_is_idempotent(value: str) -> None:
    once = clean_text(value)
    assert clean_text(once) == once


def test_naive_datetime_is_taken_as_utc() -> None:
    assert to_utc(datetime(2024, 1, 15, 10, 30)) == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def test_aware_datetime_is_converted_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    converted = to_utc(datetime(2024, 1, 15, 10, 30, tzinfo=berlin_winter))
    assert converted == datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)


def test_struct_time_from_feedparser_is_utc_aware() -> None:
    parsed = time.strptime("2024-01-15 10:30:05", "%Y-%m-%d %H:%M:%S")
    assert to_utc(parsed) == datetime(2024, 1, 15, 10, 30, 5, tzinfo=UTC)


def test_leap_second_is_clamped_not_an_error() -> None:
    assert to_utc(time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))) == datetime(
        2016, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_impossible_struct_time_is_none() -> None:
    assert to_utc(time.struct_time((2024, 2, 30, 0, 0, 0, 0, 0, 0))) is None


def test_none_stays_none() -> None:
    assert to_utc(None) is None


@given(st.text())
def test_storable_text_encodes_as_utf8_holds_no_nul_and_changes_nothing_clean(value: str) -> None:
    stored = storable(value)
    stored.encode("utf-8")  # a lone surrogate would raise here, as both database drivers do
    assert not _FORBIDDEN.search(stored) and "\r" not in stored
    assert storable(stored) == stored
    if not _FORBIDDEN.search(value) and "\r" not in value:
        assert stored == value  # ordinary text, bidi controls and surrounding spaces included, is untouched


def test_storable_keeps_what_clean_text_would_strip() -> None:
    assert storable("  \u202eabc\x00 ") == "  \u202eabc "


@given(st.text())
def test_an_escaped_link_is_storable_and_shows_every_bad_character(value: str) -> None:
    escaped = escape_url(value)
    assert storable(escaped) == escaped and "\x7f" not in escaped
    assert escape_url(escaped) == escaped


def test_a_link_with_nul_and_a_surrogate_is_stored_percent_encoded() -> None:
    assert escape_url("https://a.example/bad\x00x\ud800.html") == "https://a.example/bad%00x%ED%A0%80.html"


def test_a_date_with_no_instant_in_utc_is_none() -> None:
    east = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    west = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert to_utc(east) is None and to_utc(west) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-05", datetime(2024, 1, 5, tzinfo=UTC)),
        ("2024-01-05T14:30:00+0200", datetime(2024, 1, 5, 12, 30, tzinfo=UTC)),  # trafilatura's form
        ("2024-01-05T14:30:00", datetime(2024, 1, 5, 14, 30, tzinfo=UTC)),
        (" 2024-01-05T14:30:00Z ", datetime(2024, 1, 5, 14, 30, tzinfo=UTC)),  # JSON Feed's RFC 3339
        ("Fri, 05 Jan 2024 14:30:00 +0200", datetime(2024, 1, 5, 12, 30, tzinfo=UTC)),  # RSS's RFC 822
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date_is_utc_aware(raw: str | None, expected: datetime | None) -> None:
    parsed = parse_date(raw)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset() == timedelta(0)


def test_a_date_string_with_no_instant_in_utc_is_none_not_an_error() -> None:
    # An article's date used to raise OverflowError here (its own parser did not go through to_utc).
    assert parse_date("0001-01-01T00:00:00+05:00") is None
    assert parse_date("Fri, 31 Dec 9999 23:00:00 -0500") is None
