"""`newsetl trends`, `entities`, `cooccur`, `search`: the database's answers at a prompt, as a table, CSV or
JSON.

Every command counts under one tagger version: the one the current settings tag with (pipeline, taxonomy,
aliases), unless `--tagger` names another stored one, so a series never mixes two definitions. An empty
answer is a table with its header and no rows; a topic, entity or outlet the database does not know exits 2
naming the nearest ones (newsetl.load.analysis.UnknownName).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsetl.load import analysis, search
from newsetl.load.analysis import PERIODS, Filters
from newsetl.load.db import read_only

FORMATS = ("table", "csv", "json")
DEFAULT_TOP = 20


@dataclass(frozen=True, slots=True)
class QueryContext:
    """What the command line gives every query command: the database, and the current tagger version."""

    database: Callable[[argparse.Namespace], Engine]
    current_tagger: Callable[[argparse.Namespace], str]


def add_query_commands(commands: Any, context: QueryContext) -> None:
    trends = commands.add_parser(
        "trends", help="articles and attention per period and outlet, for a topic or entity"
    )
    subject = trends.add_mutually_exclusive_group(required=True)
    subject.add_argument("--topic", help="a topic of the taxonomy, e.g. ceasefire")
    subject.add_argument("--entity", metavar="NAME", help='an entity\'s canonical name or alias, e.g. "IDF"')
    entities = commands.add_parser("entities", help="the entities in the most articles")
    entities.add_argument("--topic", help="only articles with this topic")
    entities.add_argument(
        "--label",
        action="append",
        metavar="LABEL",
        help="only this spaCy label (PERSON, ORG, GPE, ...); repeatable",
    )
    cooccur = commands.add_parser(
        "cooccur", help="the entities mentioned in the most articles with an entity"
    )
    cooccur.add_argument("--entity", metavar="NAME", required=True, help="a canonical name or alias")
    finder = commands.add_parser("search", help="articles matching words and phrases, best first")
    finder.add_argument(
        "query", nargs="+", metavar="QUERY", help='words, "phrases", -excluded, OR between alternatives'
    )
    for parser in (entities, cooccur, finder):
        parser.add_argument(
            "--top", type=int, default=DEFAULT_TOP, metavar="N", help=f"how many ({DEFAULT_TOP})"
        )
    handlers = {trends: _trends, entities: _entities, cooccur: _cooccur, finder: _search}
    for parser, handler in handlers.items():
        _common_options(parser)
        parser.set_defaults(handler=_handler(handler, context))
    trends.add_argument("--by", choices=PERIODS, default="day", help="period (day)")


def _common_options(parser: argparse.ArgumentParser) -> None:
    filter_options(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output (table)")


def filter_options(parser: argparse.ArgumentParser) -> None:
    """What every question is asked over: the days, the outlets, the tagger version, the database."""
    parser.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day counted")
    parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day counted")
    parser.add_argument(
        "--source", action="append", default=[], metavar="OUTLET",
        help="only this outlet (its name or domain, see `newsetl sources list`); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--tagger", metavar="VERSION",
        help="count under this stored tagger version (`newsetl taggers list`); default: the current one",
    )  # fmt: skip
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: $NEWSETL_DATABASE_URL or sqlite:///newsetl.db)"
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from None


def filters_of(args: argparse.Namespace, context: QueryContext) -> Filters:
    """The Filters the options of `filter_options` (and --by, where a command has it) ask for."""
    return Filters(
        tagger=args.tagger or context.current_tagger(args),
        since=args.since,
        until=args.until,
        sources=tuple(args.source),
        by=getattr(args, "by", "day"),
    )


Query = Callable[[Session, argparse.Namespace, Filters], Sequence[Any]]


def _handler(query: Query, context: QueryContext) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        engine = context.database(args)
        filters = filters_of(args, context)
        with Session(read_only(engine)) as session:
            analysis.check_tagger(session, filters.tagger)
            rows = query(session, args, filters)
        print(render(rows, _row_type(query), args.format), end="")
        return 0

    return handle


def _trends(session: Session, args: argparse.Namespace, filters: Filters) -> Sequence[Any]:
    if args.topic is not None:
        return analysis.topic_trend(session, args.topic, filters)
    return analysis.entity_trend(session, args.entity, filters)


def _entities(session: Session, args: argparse.Namespace, filters: Filters) -> Sequence[Any]:
    _check_top(args.top)
    return analysis.top_entities(session, filters, args.top, args.topic, tuple(args.label or ()))


def _cooccur(session: Session, args: argparse.Namespace, filters: Filters) -> Sequence[Any]:
    _check_top(args.top)
    return analysis.cooccurring(session, args.entity, filters, args.top)


def _search(session: Session, args: argparse.Namespace, filters: Filters) -> Sequence[Any]:
    _check_top(args.top)
    return search.search(session, " ".join(args.query), filters, args.top)


def _check_top(top: int) -> None:
    if top < 1:
        raise analysis.UnknownName("--top must be 1 or more")


def _row_type(query: Query) -> type:
    return {
        _trends: analysis.TrendRow,
        _entities: analysis.EntityRow,
        _cooccur: analysis.CooccurrenceRow,
        _search: search.SearchHit,
    }[query]


# --- output ----------------------------------------------------------------------------------------------


def render(rows: Sequence[Any], row_type: type, fmt: str) -> str:
    """Rows of one dataclass as an aligned table, CSV (a header line, then a line per row) or a JSON array."""
    columns = [f.name for f in fields(row_type)]
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([getattr(row, c) for c in columns] for row in rows)
        return out.getvalue()
    return _table(columns, [[_cell(getattr(row, c)) for c in columns] for row in rows])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _table(columns: list[str], cells: list[list[str]]) -> str:
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [bool(cells) and all(_is_number(row[i]) for row in cells) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(row) for row in cells)]) + "\n"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
