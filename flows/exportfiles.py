"""Export files: a `Table` (newsetl.load.exports) written as CSV or Parquet, whole or not at all.

- CSV: the csv module's RFC 4180 dialect (a header line, fields quoted where they hold a comma, a quote or
  a line break, CRLF line ends), UTF-8, timestamps as ISO 8601 in UTC (`2026-01-31T09:30:00Z`), days as
  `YYYY-MM-DD`, booleans as `true`/`false`, no value as an empty field.
- Parquet: pyarrow's `ParquetWriter` with the schema the columns declare (int64, string,
  timestamp[us, tz=UTC], date32, float64, bool), one row group per batch, so the writer holds one batch at
  a time. An empty export is a file with the schema and no rows.

A file is written beside its destination under a hidden temporary name and renamed over it only once
complete: an export that fails or is interrupted leaves no half file named like a finished one (and an
earlier export at that name untouched).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from newsetl.extract.errors import ConfigError
from newsetl.load.exports import Kind, Row, Table

FORMATS = ("csv", "parquet")
STDOUT = "-"

Progress = Callable[[int], None]  # called with the rows written so far, after each batch


class OutputError(ConfigError):
    """The export cannot be written where --out says (or in that format there)."""


def write_export(table: Table, fmt: str, out: str, on_batch: Progress = lambda _rows: None) -> int:
    """Write `table` to the file `out` (or stdout, "-", for CSV) in `fmt`; the number of rows written."""
    if out == STDOUT:
        if fmt != "csv":
            raise OutputError(f"{fmt} is binary and cannot go to stdout; give --out FILE")
        return _csv_to_stdout(table, on_batch)
    destination = Path(out)
    if destination.is_dir():
        raise OutputError(f"{out!r} is a folder; give --out a file name")
    with _replaced_when_complete(destination) as part:
        if fmt == "csv":
            with part.open("w", encoding="utf-8", newline="") as stream:
                return write_csv(table, stream, on_batch)
        return write_parquet(table, part, on_batch)


@contextmanager
def _replaced_when_complete(destination: Path) -> Iterator[Path]:
    """A temporary path beside `destination`, renamed to it if the block completes and removed if not."""
    part = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
    try:
        part.touch(exist_ok=False)  # fails now, before any row is read, if the folder cannot be written
    except OSError as error:
        raise OutputError(f"cannot write {str(destination)!r}: {error.strerror}; fix --out") from error
    try:
        yield part
        os.replace(part, destination)
    except BaseException:  # Ctrl-C too: nothing half written is left behind
        part.unlink(missing_ok=True)
        raise


# --- CSV -------------------------------------------------------------------------------------------------


def _utc_iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _true_false(value: bool) -> str:
    return "true" if value else "false"


# Kinds whose str() is not the CSV form; ints, floats (repr: the shortest text that reads back the same
# float), text and days (str of a date is YYYY-MM-DD) go as they are.
_CSV_FORM: dict[Kind, Callable[[Any], str]] = {"timestamp": _utc_iso, "bool": _true_false}


def write_csv(table: Table, stream: TextIO, on_batch: Progress = lambda _rows: None) -> int:
    writer = csv.writer(stream, dialect="excel")  # RFC 4180: minimal quoting, doubled quotes, CRLF
    writer.writerow([column.name for column in table.columns])
    forms = [(i, _CSV_FORM[c.kind]) for i, c in enumerate(table.columns) if c.kind in _CSV_FORM]
    rows = 0
    for batch in table.batches:
        writer.writerows(_csv_cells(batch, forms))
        rows += len(batch)
        on_batch(rows)
    return rows


def _csv_cells(batch: list[Row], forms: list[tuple[int, Callable[[Any], str]]]) -> Iterable[Row | list[Any]]:
    if not forms:
        return batch
    return (_formatted(row, forms) for row in batch)


def _formatted(row: Row, forms: list[tuple[int, Callable[[Any], str]]]) -> list[Any]:
    cells = list(row)
    for index, form in forms:
        if cells[index] is not None:
            cells[index] = form(cells[index])
    return cells


def _csv_to_stdout(table: Table, on_batch: Progress) -> int:
    """CSV on stdout as UTF-8 whatever the locale, with the dialect's own line ends."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", newline="")
    return write_csv(table, sys.stdout, on_batch)


# --- Parquet ---------------------------------------------------------------------------------------------


def write_parquet(table: Table, path: Path, on_batch: Progress = lambda _rows: None) -> int:
    import pyarrow as pa  # only for Parquet: it takes a while to import
    import pyarrow.parquet as pq

    schema = arrow_schema(table)
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in table.batches:
            values = list(zip(*batch, strict=True))
            arrays = [pa.array(column, type=field.type) for column, field in zip(values, schema, strict=True)]
            writer.write_batch(pa.record_batch(arrays, schema=schema), row_group_size=len(batch))
            rows += len(batch)
            on_batch(rows)
    return rows


def arrow_schema(table: Table) -> Any:
    import pyarrow as pa

    types = {
        "int": pa.int64(),
        "text": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "float": pa.float64(),
        "bool": pa.bool_(),
    }
    return pa.schema([pa.field(column.name, types[column.kind]) for column in table.columns])
