"""Bulk-writing helpers both databases share: the dialect's INSERT with ON CONFLICT, keys in chunks, rows
keyed by natural keys. Every writer goes through them in key order, so that two runs loading overlapping
rows on PostgreSQL wait for each other instead of deadlocking."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Keys per IN (...) query: well under SQLite's bound-parameter limit and PostgreSQL's comfort zone.
KEY_CHUNK = 500


def dialect_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def chunks(items: Sequence[Any], size: int = KEY_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_stored(column: Any, value: str) -> str:
    """`value` as `column` will hold it (load.types), for code comparing stored values with its own."""
    coerce = getattr(column.type, "coerce", None)
    return coerce(value) if coerce is not None else value


def upsert_named(
    session: Session, table: Table, key: tuple[str, str], pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Rows keyed by a two-column natural key (entities: name+label, topics: name+version) -> their ids."""
    if not pairs:
        return {}
    first, second = key
    # Keyed as the columns will hold them (cleaned, cut to length), so the rows read back are found again.
    stored = {
        pair: (as_stored(table.c[first], pair[0]), as_stored(table.c[second], pair[1])) for pair in pairs
    }
    ordered = sorted(set(stored.values()))
    session.execute(
        dialect_insert(session, table).on_conflict_do_nothing(index_elements=[first, second]),
        [{first: a, second: b} for a, b in ordered],
    )
    wanted, ids = set(ordered), {}
    for chunk in chunks(ordered):
        firsts = {a for a, _ in chunk}
        query = select(table.c[first], table.c[second], table.c.id).where(table.c[first].in_(firsts))
        ids.update({(a, b): row_id for a, b, row_id in session.execute(query) if (a, b) in wanted})
    return {pair: ids[key] for pair, key in stored.items()}


def insert_ignoring_duplicates(
    session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]
) -> int:
    """Insert rows in key order, skipping those already there; returns how many were inserted."""
    return len(insert_new(session, model, rows, keys))


def insert_new(
    session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]
) -> list[tuple[Any, ...]]:
    """Insert rows in key order, skipping those already there; returns the keys of those inserted."""
    if not rows:
        return []
    unique = sorted(
        {tuple(r[k] for k in keys): r for r in rows}.values(), key=lambda r: tuple(r[k] for k in keys)
    )
    stmt = dialect_insert(session, model).on_conflict_do_nothing(index_elements=keys)
    returned = session.execute(stmt.returning(*[model.__table__.c[k] for k in keys]), unique)
    return [tuple(row) for row in returned]
