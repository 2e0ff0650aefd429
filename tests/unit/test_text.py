"""clean_text and to_utc: what may reach the database (FAULTS.md row 36)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from transform.text import clean_text, to_utc

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
