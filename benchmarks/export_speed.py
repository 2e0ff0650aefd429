"""Export speed: `newsetl export` over 200,000 articles, rows per second and peak memory, CSV and Parquet.

    python -m benchmarks.export_speed [--articles 200000] [--sqlite PATH] [--postgres URL] [--rebuild]

Builds (or reuses, when it already holds the same rows) a SQLite database at --sqlite and a PostgreSQL one
at --postgres (skipped when the server is not reachable), by direct bulk inserts: --articles articles over
18 months (2025-01-01 to 2026-06-30, 1 in 50 without a publication date), 20 outlets, a text of 4,700
characters each (the mean of ../shared/corpus/articles: on SQLite most rows then spill onto overflow
pages, which every export reads through to the outlet stored after the text), one tagger version, and
three topic rows per article (ceasefire on half the articles, 70 % of rows passed). PostgreSQL is analysed
after loading, as autovacuum would do; SQLite is left as newsetl leaves it.

Then runs `newsetl export` in this process (`flows.cli.main`, the command as typed, with --tagger so no
spaCy pipeline is loaded) for:

- topics: a year of one topic (`--topic ceasefire --since 2025-01-01 --until 2025-12-31`);
- articles: every article, without text.

each as CSV and as Parquet, and prints rows, seconds and rows/s of an untraced run, and the peak of
Python's memory (tracemalloc) of a second, traced one, and the CPU seconds of this process (the clock
counts whatever else the machine runs). PASS when every export reaches --min-rate rows/s (50,000) by the
clock; the exit status is 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from newsetl.flows.cli import main as newsetl
from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.load.models import Article, ArticleTagging, ArticleTopic, Source, Topic

TAGGER = "bench-tagger"
TOPICS = ("ceasefire", "hostages", "humanitarian_aid", "negotiations", "casualties",
          "military_operations", "protests", "sanctions", "elections", "displacement")  # fmt: skip
OUTLETS = 20
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 546  # to 2026-06-30
TEXT_CHARS = 4_700
CHUNK = 10_000  # rows per insert statement batch
DEFAULT_SQLITE = Path(tempfile.gettempdir()) / "newsetl-export-bench.db"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/newsetl_export_bench"
EXPORTS = {
    "topics: ceasefire, 2025":
        ["topics", "--topic", "ceasefire", "--since", "2025-01-01", "--until", "2025-12-31"],
    "articles: all, no text": ["articles"],
}  # fmt: skip
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Result:
    database: str
    export: str
    fmt: str
    rows: int
    seconds: float
    cpu_seconds: float  # of this process: the export's own work, whatever else the machine is doing
    peak_bytes: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


# --- the database ----------------------------------------------------------------------------------------


def _published(i: int) -> datetime | None:
    if i % 50 == 0:
        return None
    return FIRST_DAY + timedelta(days=(i * 7919) % DAYS, seconds=(i * 104729) % 86_400)


def _article_rows(start: int, stop: int) -> Iterator[dict[str, object]]:
    body = ("Mediators met in Cairo as talks on a truce resumed. " * (1 + TEXT_CHARS // 52))[:TEXT_CHARS]
    for i in range(start, stop):
        published = _published(i)
        yield {
            "id": i, "url_key": f"{i:064x}", "url": f"https://outlet{i % OUTLETS}.example/news/{i}",
            "canonical_url": None, "title": f"Article {i}: talks resume", "authors": ["A. Writer"],
            "published_at": published, "first_seen_at": (published or FIRST_DAY) + timedelta(hours=1),
            "day": (published or FIRST_DAY + timedelta(hours=1)).date(),
            "language": "en", "text": body, "outcome": "ok", "source_id": 1 + i % OUTLETS,
        }  # fmt: skip


def _topic_rows(start: int, stop: int) -> Iterator[dict[str, object]]:
    for i in range(start, stop):
        first = 1 if i % 2 == 0 else 2 + i % 3  # ceasefire on every other article
        for topic_id in (first, 5 + i % 3, 8 + i % 3):
            yield {
                "article_id": i, "topic_id": topic_id, "tagger": TAGGER, "score": (i % 100) / 100,
                "passed": i % 10 < 7, "evidence": "A truce was agreed, officials said.",
            }  # fmt: skip


def _fill(engine: Engine, articles: int) -> None:
    with engine.begin() as db:
        db.execute(insert(Source), [{"id": n, "name": f"Outlet {n}", "domain": f"outlet{n}.example"}
                                    for n in range(1, OUTLETS + 1)])  # fmt: skip
        db.execute(insert(Topic), [{"id": n, "name": name, "taxonomy_version": "bench"}
                                   for n, name in enumerate(TOPICS, 1)])  # fmt: skip
    for start in range(1, articles + 1, CHUNK):
        stop = min(start + CHUNK, articles + 1)
        with engine.begin() as db:
            db.execute(insert(Article), list(_article_rows(start, stop)))
            taggings = [{"article_id": i, "tagger": TAGGER} for i in range(start, stop)]
            db.execute(insert(ArticleTagging), taggings)
            db.execute(insert(ArticleTopic), list(_topic_rows(start, stop)))
        print(f"\r  loaded {stop - 1:,} of {articles:,} articles", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def _holds(engine: Engine, articles: int) -> bool:
    """Whether the database holds what this benchmark builds, so that it can be reused."""
    with engine.connect() as db:
        shape = (
            db.scalar(select(func.count()).select_from(Article)),
            db.scalar(select(func.count()).select_from(ArticleTopic).where(ArticleTopic.tagger == TAGGER)),
            db.scalar(select(func.length(Article.text)).where(Article.id == 1)),
        )
    return shape == (articles, 3 * articles, TEXT_CHARS)


def _sqlite(path: Path, articles: int, rebuild: bool) -> str:
    url = f"sqlite:///{path}"
    if path.exists() and not rebuild and _usable(url, articles):
        return url
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    _build(url, articles)
    return url


def _postgres(url: str, articles: int, rebuild: bool) -> str | None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as db:
            exists = db.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and not rebuild and _usable(url, articles):
                return url
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            db.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        print(f"PostgreSQL skipped, not reachable: {reason}", file=sys.stderr)
        return None
    finally:
        admin.dispose()
    _build(url, articles)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as db:
        db.execute(text("VACUUM ANALYZE"))
    return url


def _usable(url: str, articles: int) -> bool:
    engine = make_engine(url)
    try:
        return _holds(engine, articles)
    except Exception:  # no schema, another schema: built again
        return False
    finally:
        engine.dispose()


def _build(url: str, articles: int) -> None:
    print(f"building {make_url(url).render_as_string(hide_password=True)} ...", file=sys.stderr)
    began = time.monotonic()
    engine = make_engine(url)
    upgrade(engine)
    _fill(engine, articles)
    engine.dispose()
    print(f"  built in {time.monotonic() - began:.0f} s", file=sys.stderr)


# --- the exports -----------------------------------------------------------------------------------------


def _export(url: str, args: list[str], fmt: str, out: Path) -> None:
    code = newsetl(["export", *args, "--format", fmt, "--out", str(out), "--tagger", TAGGER, "--db", url])
    if code != 0:
        raise SystemExit(f"newsetl export {' '.join(args)} exited {code}")


def _rows_in(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as stream:
        return sum(1 for _ in stream) - 1  # no line breaks inside these fields: a line per row


def _measure(database: str, url: str, name: str, args: list[str], fmt: str, folder: Path) -> Result:
    out = folder / f"export.{fmt}"
    began, cpu_began = time.perf_counter(), time.process_time()
    _export(url, args, fmt, out)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu_began
    tracemalloc.start()
    try:
        _export(url, args, fmt, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Result(database, name, fmt, _rows_in(out, fmt), seconds, cpu_seconds, peak)


def _table(results: list[Result], min_rate: float) -> str:
    columns = f"{'rows':>9} {'seconds':>8} {'rows/s':>9} {'cpu s':>6} {'peak MB':>8}"
    header = f"{'database':<10} {'export':<24} {'format':<8} {columns}"
    lines = [header, "-" * len(header)]
    for r in results:
        flag = "" if r.rate >= min_rate else "  < target"
        lines.append(
            f"{r.database:<10} {r.export:<24} {r.fmt:<8} {r.rows:>9,} {r.seconds:>8.2f} {r.rate:>9,.0f} "
            f"{r.cpu_seconds:>6.2f} {r.peak_bytes / 1e6:>8.1f}{flag}"
        )
    load = os.getloadavg()[0]
    cpus = os.cpu_count()
    lines.append(f"(load average {load:.1f} on {cpus} CPUs; rows/s by the clock, cpu s of this process)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200_000)
    parser.add_argument("--sqlite", type=Path, default=DEFAULT_SQLITE, help=f"({DEFAULT_SQLITE})")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help=f"({DEFAULT_POSTGRES})")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again even if usable")
    parser.add_argument("--min-rate", type=float, default=50_000, help="rows/s to pass (50000)")
    args = parser.parse_args(argv)

    databases = {"sqlite": _sqlite(args.sqlite, args.articles, args.rebuild)}
    postgres = _postgres(args.postgres, args.articles, args.rebuild)
    if postgres:
        databases["postgresql"] = postgres
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for database, url in databases.items():
            for name, export in EXPORTS.items():
                for fmt in FORMATS:
                    results.append(_measure(database, url, name, export, fmt, Path(folder)))
    print(_table(results, args.min_rate))
    passed = all(r.rate >= args.min_rate for r in results)
    print(f"{'PASS' if passed else 'FAIL'}: every export at {args.min_rate:,.0f} rows/s or more" if passed
          else f"FAIL: an export below {args.min_rate:,.0f} rows/s")  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
