"""Column types that behave the same on SQLite and PostgreSQL.

Every text, string and JSON column of the schema uses one of the Stored* types below: that is where a
string from outside is made storable, once, for every field and every statement (inserts, updates and the
values compared in WHERE clauses alike).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from newsetl.transform.records import escape_url, storable


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every dialect.

    SQLite has no time zones and silently drops the offset, so values are stored there as
    naive UTC and given their zone back on the way out; naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: newsetl stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredText(TypeDecorator[str]):
    """Text from outside, made `storable` on its way in: one cleaning step for every text column, so a NUL
    in a title or an ETag, or a lone surrogate in an error message, is stored alike on SQLite and PostgreSQL
    instead of failing the batch on one and not the other."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable(value)


class StoredString(TypeDecorator[str]):
    """A bounded string column: `storable`, then cut to the column's length. PostgreSQL refuses a value
    longer than VARCHAR(n) where SQLite stores it whole; cutting it here gives both the same row."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.coerce(value)

    def coerce(self, value: str) -> str:
        """The value as the column will hold it: for code that compares stored values with its own."""
        text = storable(value)
        length = self.impl.length  # type: ignore[attr-defined]
        return text[:length] if length else text


class StoredURL(TypeDecorator[str]):
    """A link as given, with what neither database stores (controls, lone surrogates) percent-encoded."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else escape_url(value)


class StoredJSON(TypeDecorator[Any]):
    """JSON whose every string (keys included) is `storable`: authors lists, run parameters and counts."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _storable_json(value)


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {_storable_json(key): _storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(item) for item in value]
    return value
