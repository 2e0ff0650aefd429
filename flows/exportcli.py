"""`newsetl export articles|entities|topics`: rows for a notebook or a spreadsheet, as CSV or Parquet.

The rows are those the query commands count (newsetl.load.exports): stored articles tagged by one tagger
version, in the days and outlets asked for, with the same options (`querycli.filter_options`). They are
streamed from the database to the file a batch at a time, so an export of millions of rows takes the
memory of one batch. At a terminal, stderr shows the rows written so far and then a one-line summary;
elsewhere the command says nothing but its errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.orm import Session

from newsetl.flows.exportfiles import FORMATS, STDOUT, write_export
from newsetl.flows.querycli import QueryContext, filter_options, filters_of
from newsetl.load import analysis, exports
from newsetl.load.db import read_only

EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C
PROGRESS_EVERY_SECONDS = 0.25

Source = Callable[[Session, argparse.Namespace, analysis.Filters], exports.Table]


def add_export_commands(commands: Any, context: QueryContext) -> None:
    export = commands.add_parser("export", help="articles, entities or topics as CSV or Parquet")
    tables = export.add_subparsers(dest="table", required=True)
    articles = tables.add_parser("articles", help="one row per article")
    articles.add_argument(
        "--with-text", action="store_true", help="add each article's text (the bulk of the database)"
    )
    entities = tables.add_parser("entities", help="one row per entity mentioned in an article")
    topics = tables.add_parser("topics", help="one row per topic scored on an article, passed or not")
    topics.add_argument("--topic", help="only this topic, e.g. ceasefire")
    topics.add_argument("--passed-only", action="store_true", help="only the topics assigned (passed)")
    sources: dict[argparse.ArgumentParser, Source] = {
        articles: _articles,
        entities: _entities,
        topics: _topics,
    }
    for parser, source in sources.items():
        parser.add_argument("--format", choices=FORMATS, default="csv", help="file format (csv)")
        parser.add_argument(
            "--out", metavar="FILE", required=True, help=f"where to write; {STDOUT} for stdout (CSV only)"
        )
        filter_options(parser)
        parser.set_defaults(handler=_handler(source, context))


def _articles(session: Session, args: argparse.Namespace, filters: analysis.Filters) -> exports.Table:
    return exports.articles(session, filters, with_text=args.with_text)


def _entities(session: Session, _args: argparse.Namespace, filters: analysis.Filters) -> exports.Table:
    return exports.entities(session, filters)


def _topics(session: Session, args: argparse.Namespace, filters: analysis.Filters) -> exports.Table:
    return exports.topics(session, filters, topic=args.topic, passed_only=args.passed_only)


def _handler(source: Source, context: QueryContext) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        engine = context.database(args)
        filters = filters_of(args, context)
        shown = _Progress(sys.stderr, args.table) if _show_progress(args.out) else None
        began = time.monotonic()
        try:
            # One read transaction: the export is one snapshot, and takes no write lock (SQLite).
            with Session(read_only(engine)) as session:
                analysis.check_tagger(session, filters.tagger)
                table = source(session, args, filters)
                rows = write_export(table, args.format, args.out, shown.update if shown else _nothing)
        except KeyboardInterrupt:
            line_end = "\n" if shown else ""  # below the progress line
            left = "" if args.out == STDOUT else f"; nothing written to {args.out}"
            print(f"{line_end}newsetl: export interrupted{left}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # `newsetl export ... --out - | head`: the reader has all it wanted
            _silence_stdout()
            return 0
        if shown:
            shown.done(rows, args.out, time.monotonic() - began)
        return 0

    return handle


def _show_progress(out: str) -> bool:
    """At a terminal only, and not over CSV going to that same terminal."""
    return sys.stderr.isatty() and not (out == STDOUT and sys.stdout.isatty())


def _nothing(_rows: int) -> None:
    pass


def _silence_stdout() -> None:
    # Python flushes stdout at exit, which would raise again on the closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class _Progress:
    """The rows written so far on one line of the terminal, redrawn at most a few times a second."""

    def __init__(self, stream: TextIO, table: str) -> None:
        self.stream = stream
        self.table = table
        self.last = 0.0

    def update(self, rows: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            self.stream.write(f"\rexporting {self.table}: {rows:,} rows written")
            self.stream.flush()

    def done(self, rows: int, out: str, seconds: float) -> None:
        where = "stdout" if out == STDOUT else f"{out} ({_size(Path(out).stat().st_size)})"
        self.stream.write(f"\r\x1b[2K{rows:,} rows of {self.table} written to {where} in {seconds:.1f} s\n")
        self.stream.flush()


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    value, units = size / 1000, ["KB", "MB", "GB", "TB"]
    while value >= 1000 and len(units) > 1:
        value, units = value / 1000, units[1:]
    return f"{value:.1f} {units[0]}"
