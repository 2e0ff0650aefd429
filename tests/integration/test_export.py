"""`newsetl export`: articles, entities and topics as CSV and Parquet files, on a real SQLite and PostgreSQL.

The database is built by direct inserts: six articles (one failed, one tagged only by an older version, one
without an outlet yet), two tagger versions, entities and topics, with the characters CSV must quote.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from newsetl.flows.cli import main
from newsetl.flows.exportfiles import arrow_schema, write_export
from newsetl.load import exports
from newsetl.load.analysis import Filters
from newsetl.load.db import make_engine, read_only
from newsetl.load.migrate import upgrade
from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTagging,
    ArticleTopic,
    Entity,
    Source,
    Topic,
)

TAGGER = "tagger-v2"
OLD_TAGGER = "tagger-v1"
BBC, AJ = "BBC News", "Al Jazeera"


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


TITLE = 'Truce, "finally" agreed'
TEXT = 'Line one, with a comma\nline "two"\n\nthree — ünïcode'  # stored text has no CR (types.py)
ARTICLES = [  # id, source_id, published_at, first_seen_at, outcome, title, authors, text
    (1, 1, _at(2026, 1, 5, 10, 0, 0, 123456), _at(2026, 1, 6), "ok", TITLE, ["Doe, Jane", "Zoë"], TEXT),
    (2, 2, None, _at(2026, 1, 20, 23, 30), "ok", "Talks in Cairo", [], "Short."),
    (3, 1, _at(2026, 2, 1), _at(2026, 2, 1, 1), "ok", "Aid", ["A"], "x"),
    (4, 1, _at(2026, 1, 10), _at(2026, 1, 10), "server_error", None, [], None),
    (5, 2, _at(2026, 1, 11), _at(2026, 1, 11), "ok", "Old", [], "y"),
    (6, None, _at(2026, 1, 15, 23, 59, 59), _at(2026, 1, 16), "ok", "Orphan", [], "z"),
]
TAGGINGS = [(1, TAGGER), (2, TAGGER), (3, TAGGER), (4, TAGGER), (6, TAGGER), (1, OLD_TAGGER), (5, OLD_TAGGER)]
ARTICLE_ENTITIES = [  # article, entity, tagger, count, surfaces
    (1, 1, TAGGER, 3, {"Hamas": 3}),
    (1, 2, TAGGER, 2, {"Netanyahu": 1, "Benjamin Netanyahu": 1}),
    (2, 1, TAGGER, 1, None),
    (6, 2, TAGGER, 1, {"Bibi": 1}),
    (1, 1, OLD_TAGGER, 9, {"Hamas": 9}),
    (5, 1, OLD_TAGGER, 1, {"Hamas": 1}),
]
ARTICLE_TOPICS = [  # article, topic, tagger, score, passed, evidence
    (1, 1, TAGGER, 0.8, True, 'A truce was agreed, "finally".'),
    (1, 2, TAGGER, 0.3, False, "Hostages were mentioned."),
    (3, 1, TAGGER, 0.55, True, None),
    (6, 2, TAGGER, 0.9, True, "Hostage\nrelease"),
    (1, 3, OLD_TAGGER, 0.7, True, "old"),
    (5, 1, OLD_TAGGER, 0.9, True, "older"),
]


def _url(article_id: int) -> str:
    return f"https://news.example/{article_id}"


def _canonical(article_id: int) -> str | None:
    return _url(article_id) + "/c" if article_id == 1 else None


def _language(article_id: int) -> str | None:
    return None if article_id == 2 else "en"


def _fill(engine: Engine) -> None:
    with engine.begin() as db:
        db.execute(
            insert(Source),
            [{"id": 1, "name": BBC, "domain": "bbc.co.uk"}, {"id": 2, "name": AJ, "domain": "aljazeera.com"}],
        )
        db.execute(
            insert(Article),
            [
                {"id": i, "url_key": f"k{i}", "url": _url(i), "canonical_url": _canonical(i),
                 "source_id": source, "published_at": published, "first_seen_at": seen, "outcome": outcome,
                 "day": (published or seen).date(),
                 "title": title, "authors": authors, "text": body, "language": _language(i)}
                for i, source, published, seen, outcome, title, authors, body in ARTICLES
            ],
        )  # fmt: skip
        db.execute(insert(ArticleTagging), [{"article_id": a, "tagger": t} for a, t in TAGGINGS])
        db.execute(
            insert(Entity),
            [{"id": 1, "name": "Hamas", "label": "ORG"}, {"id": 2, "name": BIBI, "label": "PERSON"}],
        )
        db.execute(
            insert(ArticleEntity),
            [
                {"article_id": a, "entity_id": e, "tagger": t, "count": n, "first_offset": 0, "surfaces": s}
                for a, e, t, n, s in ARTICLE_ENTITIES
            ],
        )
        db.execute(
            insert(Topic),
            [
                {"id": 1, "name": "ceasefire", "taxonomy_version": "3"},
                {"id": 2, "name": "hostages", "taxonomy_version": "3"},
                {"id": 3, "name": "ceasefire", "taxonomy_version": "2"},
            ],
        )
        db.execute(
            insert(ArticleTopic),
            [
                {"article_id": a, "topic_id": t, "tagger": v, "score": s, "passed": p, "evidence": ev}
                for a, t, v, s, p, ev in ARTICLE_TOPICS
            ],
        )


@pytest.fixture
def db(database_url) -> str:
    engine = make_engine(database_url)
    upgrade(engine)
    _fill(engine)
    engine.dispose()
    return database_url


# --- what each export holds ------------------------------------------------------------------------------


def _article(i: int, outlet: str | None, domain: str | None, day: date, with_text: bool = False) -> tuple:
    _, _, published, seen, _, title, authors, body = ARTICLES[i - 1]
    row = (i, _url(i), _canonical(i), outlet, domain, title, json.dumps(authors, ensure_ascii=False),
           published, seen, day, _language(i))  # fmt: skip
    return (*row, body) if with_text else row


def _articles(with_text: bool = False) -> list[tuple]:
    return [
        _article(1, BBC, "bbc.co.uk", date(2026, 1, 5), with_text),
        _article(2, AJ, "aljazeera.com", date(2026, 1, 20), with_text),  # no publication date: first seen
        _article(3, BBC, "bbc.co.uk", date(2026, 2, 1), with_text),
        _article(6, None, None, date(2026, 1, 15), with_text),  # not yet given an outlet
    ]


BIBI = "Benjamin Netanyahu"
ENTITY_ROWS = [
    (1, date(2026, 1, 5), BBC, "Hamas", "ORG", 3, '{"Hamas": 3}'),
    (1, date(2026, 1, 5), BBC, BIBI, "PERSON", 2, '{"Netanyahu": 1, "Benjamin Netanyahu": 1}'),
    (2, date(2026, 1, 20), AJ, "Hamas", "ORG", 1, None),
    (6, date(2026, 1, 15), None, BIBI, "PERSON", 1, '{"Bibi": 1}'),
]
TOPIC_ROWS = [
    (1, date(2026, 1, 5), BBC, "ceasefire", 0.8, True, 'A truce was agreed, "finally".'),
    (1, date(2026, 1, 5), BBC, "hostages", 0.3, False, "Hostages were mentioned."),
    (3, date(2026, 2, 1), BBC, "ceasefire", 0.55, True, None),
    (6, date(2026, 1, 15), None, "hostages", 0.9, True, "Hostage\nrelease"),
]
HEADERS = {
    "articles": [c.name for c in exports.ARTICLE_COLUMNS],
    "entities": [c.name for c in exports.ENTITY_COLUMNS],
    "topics": [c.name for c in exports.TOPIC_COLUMNS],
}


# --- reading the files back ------------------------------------------------------------------------------


def _export(db: str, out: Path, table: str, fmt: str, *options: str, tagger: str = TAGGER) -> int:
    args = ["--format", fmt, "--out", str(out), "--tagger", tagger, "--db", db, *options]
    return main(["export", table, *args])


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    return header, rows


def _csv_form(value: Any) -> str:
    """How the CSV spells a value, as README says: ISO 8601 UTC, true/false, empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)  # ints, floats (shortest repr), days as YYYY-MM-DD, text


def _read_back(path: Path, fmt: str) -> tuple[list[str], list[tuple]]:
    """The header and rows of an export file: CSV as the strings it holds, Parquet as Python values."""
    if fmt == "csv":
        header, rows = _read_csv(path)
        return header, [tuple(row) for row in rows]
    table = pq.read_table(path)
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


def _as_written(rows: list[tuple], fmt: str) -> list[tuple]:
    return [tuple(_csv_form(v) for v in row) for row in rows] if fmt == "csv" else rows


# --- round trips -----------------------------------------------------------------------------------------

FORMATS = ["csv", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_articles_come_back_exactly_with_their_outlet_and_day(db, tmp_path, fmt) -> None:
    out = tmp_path / f"articles.{fmt}"
    assert _export(db, out, "articles", fmt) == 0
    assert _read_back(out, fmt) == (HEADERS["articles"], _as_written(_articles(), fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_with_text_adds_each_articles_text_line_breaks_and_quotes_included(db, tmp_path, fmt) -> None:
    out = tmp_path / f"articles.{fmt}"
    assert _export(db, out, "articles", fmt, "--with-text") == 0
    assert _read_back(out, fmt) == ([*HEADERS["articles"], "text"], _as_written(_articles(True), fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_entities_are_one_row_per_article_and_entity_of_the_version(db, tmp_path, fmt) -> None:
    out = tmp_path / f"entities.{fmt}"
    assert _export(db, out, "entities", fmt) == 0
    assert _read_back(out, fmt) == (HEADERS["entities"], _as_written(ENTITY_ROWS, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_topics_include_the_rows_that_did_not_pass(db, tmp_path, fmt) -> None:
    out = tmp_path / f"topics.{fmt}"
    assert _export(db, out, "topics", fmt) == 0
    assert _read_back(out, fmt) == (HEADERS["topics"], _as_written(TOPIC_ROWS, fmt))


def test_the_csv_is_rfc_4180_utf_8_with_iso_utc_times(db, tmp_path) -> None:
    out = tmp_path / "articles.csv"
    assert _export(db, out, "articles", "csv") == 0
    lines = out.read_bytes().decode("utf-8").split("\r\n")
    assert lines[0] == ",".join(HEADERS["articles"])
    assert lines[1] == (
        '1,https://news.example/1,https://news.example/1/c,BBC News,bbc.co.uk,"Truce, ""finally"" agreed",'
        '"[""Doe, Jane"", ""Zoë""]",2026-01-05T10:00:00.123456Z,2026-01-06T00:00:00Z,2026-01-05,en'
    )
    assert lines[-1] == ""  # every record ends in CRLF, the last one too


def test_the_parquet_file_has_the_declared_schema_and_a_row_group_per_batch(db, tmp_path) -> None:
    out = tmp_path / "topics.parquet"
    with Session(read_only(make_engine(db))) as session:
        table = exports.topics(session, Filters(TAGGER), batch_size=3)
        assert write_export(table, "parquet", str(out)) == 4
    parquet = pq.ParquetFile(out)
    assert parquet.schema_arrow == pa.schema(
        [
            ("article_id", pa.int64()),
            ("day", pa.date32()),
            ("outlet", pa.string()),
            ("topic", pa.string()),
            ("score", pa.float64()),
            ("passed", pa.bool_()),
            ("evidence", pa.string()),
        ]
    )
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [3, 1]
    articles = pq.read_schema(_exported(db, tmp_path, "articles", "parquet"))
    assert articles.field("published_at").type == pa.timestamp("us", tz="UTC")


def _exported(db: str, tmp_path: Path, table: str, fmt: str, *options: str) -> Path:
    out = tmp_path / f"{table}-{len(list(tmp_path.iterdir()))}.{fmt}"
    assert _export(db, out, table, fmt, *options) == 0
    return out


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite sessions have no time zone
def test_days_and_times_are_utc_whatever_the_time_zone_of_the_postgresql_session(database_url, db, tmp_path):
    in_tokyo = db + "?options=-c%20timezone%3DAsia%2FTokyo"  # article 6, 23:59:59 UTC, is the 16th there
    for fmt in FORMATS:
        out = tmp_path / f"tokyo.{fmt}"
        assert _export(in_tokyo, out, "articles", fmt) == 0
        assert _read_back(out, fmt) == (HEADERS["articles"], _as_written(_articles(), fmt))
    assert _ids(_exported(in_tokyo, tmp_path, "topics", "csv", "--until", "2026-01-15")) == [1, 1, 6]


# --- filters ---------------------------------------------------------------------------------------------


def _ids(path: Path) -> list[int]:
    return [int(row[0]) for row in _read_csv(path)[1]]


def test_since_and_until_are_days_both_included_counted_on_the_articles_day(db, tmp_path) -> None:
    # Article 6 was published at 23:59:59 on the 15th, article 2 first seen at 23:30 on the 20th.
    dates = ("--since", "2026-01-15", "--until", "2026-01-20")
    assert _ids(_exported(db, tmp_path, "articles", "csv", *dates)) == [2, 6]
    assert _ids(_exported(db, tmp_path, "topics", "csv", *dates)) == [6]
    assert _ids(_exported(db, tmp_path, "entities", "csv", "--since", "2026-01-16")) == [2]


def test_source_keeps_outlets_by_name_or_domain(db, tmp_path) -> None:
    assert _ids(_exported(db, tmp_path, "articles", "csv", "--source", AJ)) == [2]
    assert _ids(_exported(db, tmp_path, "entities", "csv", "--source", "bbc.co.uk")) == [1, 1]
    both = ("--source", "bbc.co.uk", "--source", "aljazeera.com")
    assert _ids(_exported(db, tmp_path, "articles", "csv", *both)) == [1, 2, 3]


def test_topic_and_passed_only_keep_the_rows_asked_for(db, tmp_path) -> None:
    ceasefire = _read_csv(_exported(db, tmp_path, "topics", "csv", "--topic", "ceasefire"))[1]
    assert [(r[0], r[3]) for r in ceasefire] == [("1", "ceasefire"), ("3", "ceasefire")]
    passed = _read_csv(_exported(db, tmp_path, "topics", "csv", "--passed-only"))[1]
    assert [(r[0], r[3], r[5]) for r in passed] == [
        ("1", "ceasefire", "true"),
        ("3", "ceasefire", "true"),
        ("6", "hostages", "true"),
    ]
    hostages = ("--topic", "hostages", "--passed-only")
    assert _ids(_exported(db, tmp_path, "topics", "csv", *hostages)) == [6]


def test_another_tagger_version_exports_what_that_version_tagged(db, tmp_path) -> None:
    out = tmp_path / "old.csv"
    assert _export(db, out, "topics", "csv", tagger=OLD_TAGGER) == 0
    rows = [(r[0], r[3], r[4]) for r in _read_csv(out)[1]]
    assert rows == [("1", "ceasefire", "0.7"), ("5", "ceasefire", "0.9")]  # topic 3: ceasefire of taxonomy 2
    assert _ids(_exported(db, tmp_path, "articles", "csv", "--tagger", OLD_TAGGER)) == [1, 5]


# --- errors and edge cases -------------------------------------------------------------------------------


def test_an_unknown_topic_exits_2_naming_the_nearest_and_writes_nothing(db, tmp_path, capsys) -> None:
    out = tmp_path / "topics.csv"
    assert _export(db, out, "topics", "csv", "--topic", "ceasefir") == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no topic 'ceasefir'" in line and "nearest: ceasefire" in line
    assert [path.name for path in tmp_path.iterdir() if "topics" in path.name] == []  # nor a temporary file


def test_a_tagger_version_that_tagged_nothing_exits_2(db, tmp_path, capsys) -> None:
    assert _export(db, tmp_path / "x.csv", "articles", "csv", tagger="nope") == 2
    assert f"stored versions: {OLD_TAGGER}, {TAGGER}" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("table", ["articles", "entities", "topics"])
def test_an_empty_export_is_a_header_only_csv_or_a_parquet_file_with_the_schema(db, tmp_path, table) -> None:
    later = ("--since", "2030-01-01")
    csv_file = _exported(db, tmp_path, table, "csv", *later)
    assert csv_file.read_bytes() == (",".join(HEADERS[table]) + "\r\n").encode()
    parquet = pq.read_table(_exported(db, tmp_path, table, "parquet", *later))
    columns = {"articles": exports.ARTICLE_COLUMNS, "entities": exports.ENTITY_COLUMNS}.get(
        table, exports.TOPIC_COLUMNS
    )
    assert parquet.num_rows == 0
    assert parquet.schema == arrow_schema(exports.Table(columns, iter(())))


def test_csv_goes_to_stdout_with_a_dash_and_parquet_there_exits_2(db, tmp_path, capsysbinary) -> None:
    assert _export(db, Path("-"), "topics", "csv") == 0
    written = capsysbinary.readouterr().out
    assert written == _exported(db, tmp_path, "topics", "csv").read_bytes()
    assert _export(db, Path("-"), "topics", "parquet") == 2
    assert b"cannot go to stdout; give --out FILE" in capsysbinary.readouterr().err


def test_an_out_in_a_missing_folder_or_naming_a_folder_exits_2(db, tmp_path, capsys) -> None:
    assert _export(db, tmp_path / "no" / "such" / "t.csv", "topics", "csv") == 2
    line = capsys.readouterr().err.strip()
    assert "cannot write" in line and "No such file or directory; fix --out" in line
    assert _export(db, tmp_path, "topics", "parquet") == 2
    assert "is a folder; give --out a file name" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_that_fails_midway_leaves_no_file_and_an_earlier_one_untouched(db, tmp_path, fmt) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    earlier, fresh = folder / f"earlier.{fmt}", folder / f"fresh.{fmt}"
    earlier.write_bytes(b"the export of yesterday")

    def interrupted(rows: int) -> None:
        if rows >= 2:
            raise KeyboardInterrupt  # Ctrl-C after the second batch was written

    with Session(read_only(make_engine(db))) as session:
        for out in (earlier, fresh):
            table = exports.topics(session, Filters(TAGGER), batch_size=1)
            with pytest.raises(KeyboardInterrupt):
                write_export(table, fmt, str(out), interrupted)
    assert sorted(folder.iterdir()) == [earlier]  # neither a half file nor a temporary one
    assert earlier.read_bytes() == b"the export of yesterday"


# --- streaming -------------------------------------------------------------------------------------------

SMALL, LARGE = 2_000, 20_000


def _fill_many(engine: Engine, articles: int, first_outlet: int) -> None:
    """`articles` articles with one topic row each; the first `first_outlet` of them in outlet 1."""
    with engine.begin() as db:
        db.execute(insert(Source), [{"id": 1, "name": "One", "domain": "one.example"},
                                    {"id": 2, "name": "Two", "domain": "two.example"}])  # fmt: skip
        db.execute(insert(Topic), [{"id": 1, "name": "ceasefire", "taxonomy_version": "3"}])
        for start in range(1, articles + 1, 5_000):
            ids = range(start, min(start + 5_000, articles + 1))
            db.execute(
                insert(Article),
                [
                    {"id": i, "url_key": f"k{i}", "url": _url(i), "outcome": "ok", "authors": [],
                     "source_id": 1 if i <= first_outlet else 2, "published_at": _at(2026, 1, 1 + i % 28),
                     "first_seen_at": _at(2026, 1, 1), "day": _at(2026, 1, 1 + i % 28).date()}
                    for i in ids
                ],
            )  # fmt: skip
            db.execute(insert(ArticleTagging), [{"article_id": i, "tagger": TAGGER} for i in ids])
            db.execute(
                insert(ArticleTopic),
                [{"article_id": i, "topic_id": 1, "tagger": TAGGER, "score": 0.5, "passed": True,
                  "evidence": f"A truce was agreed in article {i}."} for i in ids],
            )  # fmt: skip


def _traced_peak(engine: Engine, sources: tuple[str, ...], fmt: str, out: Path) -> tuple[int, int]:
    """Rows exported and the peak of Python's memory while exporting them (tracemalloc)."""
    with Session(read_only(engine)) as session:
        tracemalloc.start()
        try:
            table = exports.topics(session, Filters(TAGGER, sources=sources), batch_size=500)
            rows = write_export(table, fmt, str(out))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return rows, peak


@pytest.mark.parametrize("fmt", FORMATS)
def test_memory_stays_that_of_one_batch_however_many_rows(tmp_path, fmt) -> None:
    # On SQLite, where every row the export holds is a Python object tracemalloc sees. On PostgreSQL rows
    # not yet fetched wait in libpq's memory, which it does not see: the server-side cursor test is that
    # database's proof.
    engine = make_engine(f"sqlite:///{tmp_path / 'many.db'}")
    upgrade(engine)
    _fill_many(engine, LARGE, first_outlet=SMALL)
    out = tmp_path / f"topics.{fmt}"
    _traced_peak(engine, ("One",), fmt, out)  # warm up: compiled statements, caches, imports
    small_rows, small_peak = _traced_peak(engine, ("One",), fmt, out)
    large_rows, large_peak = _traced_peak(engine, (), fmt, out)
    engine.dispose()
    assert (small_rows, large_rows) == (SMALL, LARGE)
    # Ten times the rows: the same peak, give or take a little. Holding every row would add megabytes
    # (8 MB against 1 MB, measured with the rows collected in a list).
    assert large_peak < small_peak * 1.2 + 100_000, (small_peak, large_peak)


@pytest.mark.parametrize(
    "database_url", ["postgresql"], indirect=True
)  # a server-side cursor is PostgreSQL's
def test_postgresql_reads_through_a_server_side_cursor(database_url, db) -> None:
    with Session(read_only(make_engine(db))) as session:
        table = exports.topics(session, Filters(TAGGER), batch_size=1)
        assert len(next(table.batches)) == 1
        cursors = session.execute(text("SELECT statement FROM pg_cursors")).scalars().all()
        assert len(cursors) == 1 and "article_topics" in cursors[0]
        assert sum(len(batch) for batch in table.batches) == 3


# --- at a terminal ---------------------------------------------------------------------------------------


def _terminal_stderr(args: list[str]) -> str:
    """What `newsetl` writes on stderr when stderr is a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            ["newsetl", *args], stderr=follower, stdout=subprocess.DEVNULL, timeout=120, check=True
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the other end is closed and everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    return seen.decode()


def test_a_terminal_gets_a_summary_and_a_pipe_gets_nothing(tmp_path, capsys) -> None:
    database = f"sqlite:///{tmp_path / 'news.db'}"
    engine = make_engine(database)
    upgrade(engine)
    _fill(engine)
    engine.dispose()
    out = tmp_path / "topics.csv"
    args = ["export", "topics", "--out", str(out), "--tagger", TAGGER, "--db", database]
    assert main(args) == 0
    assert capsys.readouterr() == ("", "")  # stderr is no terminal here
    shown = _terminal_stderr(args)
    assert f"4 rows of topics written to {out} ({out.stat().st_size} bytes) in " in shown
