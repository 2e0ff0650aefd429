"""What `newsetl search` asks: stored articles matching words and phrases, best first, with a snippet.

One query language on both databases, websearch_to_tsquery's: words are ANDed, "quoted phrases" match as
phrases, a leading `-` excludes a word or phrase, and `or` between them gives alternatives (AND binds
tighter: `a b or c` is `(a AND b) OR c`). It is parsed here, once (`parse_query`), and written out for each
database with every word or phrase quoted, so no input is ever a syntax error: an FTS5 query on SQLite, a
websearch_to_tsquery on PostgreSQL. Common words ("the", "of", PostgreSQL's English stop words, which its
index leaves out) are dropped from both, so that a query means the same on each.

The index is migration 0006's: FTS5 with Porter stemming on SQLite, ranked by bm25; a tsvector column in
English on PostgreSQL, ranked by ts_rank_cd. The title counts above the text on both (PostgreSQL's weights
A = 1.0 and B = 0.4, and the same ratio for bm25). The articles searched are those every query command
counts (`analysis.stored_articles`): stored, tagged by the tagger version, in the dates and outlets asked for.
Snippets are made for the rows returned only: ts_headline parses the text again, snippet() reads it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from newsetl.load.analysis import Filters, period_of, stored_articles
from newsetl.load.models import Article, Source
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import storable

# The objects of migration 0006 (load/migrations/env.py keeps `alembic check` off them).
FTS_TABLE = "articles_fts"
TSVECTOR_COLUMN = "search_vector"
TSVECTOR_INDEX = "ix_articles_search_vector"
INDEXED_CHARACTERS = 100_000  # the head of a title or text that 0006 indexes on PostgreSQL
MAX_WORDS = 256  # PostgreSQL's tsquery runs out of stack at some thousands of words
TITLE_WEIGHT = 2.5  # bm25's weight of the title against the text's 1.0: PostgreSQL's A against B
SNIPPET_WORDS = 24
MARK = ("[", "]")
SEARCH_WORK_MEM = "32MB"  # PostgreSQL's memory for a search's bitmap of matches: see _raise_work_mem

# PostgreSQL's English stop words (share/tsearch_data/english.stop), which its index never holds.
_STOP_WORDS = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
hers herself it its itself they them their theirs themselves what which who whom this that these
those am is are was were be been being have has had having do does did doing a an the and but if or
because as until while of at by for with about against between into through during before after
above below to from up down in out on off over under again further then once here there when where
why how all any both each few more most other some such no nor not only own same so than too very s
t can will just don should now
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
_TOKENS = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<dash>-)|(?P<word>[^\s"]+)|\s+')
_WORD = re.compile(r"[^\W_]+")  # letters and digits: what both indexes make words of


class UnsearchableQuery(ConfigError):
    """A query that searches for nothing: no word, only excluded words, or too many words."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    day: str  # publication day, else the day first seen (UTC), YYYY-MM-DD
    outlet: str
    title: str
    url: str
    rank: float  # higher is better; comparable within one answer only
    snippet: str  # words around the matches in the text, each match [marked]


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # a word or phrase as typed, without the common words at its ends
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    alternatives: tuple[tuple[Term, ...], ...]  # OR of ANDs; each has a term that is not excluded

    def fts5(self) -> str:
        """The FTS5 query: each term a quoted string, which FTS5 reads as words and nothing else."""
        return " OR ".join(_fts5_alternative(terms) for terms in self.alternatives)

    def websearch(self) -> str:
        """The same query for websearch_to_tsquery, which reads nothing inside quotes but words."""
        return " or ".join(
            " ".join(("-" if t.excluded else "") + _quoted(t.text) for t in terms)
            for terms in self.alternatives
        )


def parse_query(query: str) -> ParsedQuery:
    """The query's alternatives of terms; an UnsearchableQuery when it searches for nothing."""
    query = storable(query)  # no NUL nor lone surrogate, which PostgreSQL would refuse
    alternatives: list[list[Term]] = [[]]
    excluded = False
    for token in _TOKENS.finditer(query):
        if token["dash"]:
            excluded = True
        elif token["word"] is not None and not excluded and token["word"].lower() == "or":
            alternatives.append([])
        elif (typed := token["phrase"] if token["phrase"] is not None else token["word"]) is not None:
            if (text := _without_common_ends(typed)) is not None:
                alternatives[-1].append(Term(text, excluded))
            excluded = False
    return _checked(query, tuple(tuple(terms) for terms in alternatives if terms))


def _without_common_ends(typed: str) -> str | None:
    """The word or phrase from its first to its last word that is not a stop word; None if there is none.

    Hyphens become spaces: PostgreSQL indexes "cease-fire" as the compound and as its parts, so the parts
    find it, and "cease fire" too, as they do on SQLite, whose index holds only the parts.
    """
    words = [w for w in _WORD.finditer(typed) if w.group().lower() not in STOP_WORDS]
    return typed[words[0].start() : words[-1].end()].replace("-", " ") if words else None


def _checked(query: str, alternatives: tuple[tuple[Term, ...], ...]) -> ParsedQuery:
    if not alternatives:
        raise UnsearchableQuery(
            f"nothing to search for in {query[:100]!r}: give a word (common words such as 'the' are "
            'not indexed), e.g. newsetl search "humanitarian corridor"'
        )
    for terms in alternatives:
        if all(t.excluded for t in terms):
            shown = " ".join(f"-{t.text}" for t in terms)
            raise UnsearchableQuery(
                f"{shown!r} only excludes: give a word to search for beside it (each side of OR needs one)"
            )
    words = sum(len(_WORD.findall(t.text)) for terms in alternatives for t in terms)
    if words > MAX_WORDS:
        raise UnsearchableQuery(f"the query has {words} words; a search takes at most {MAX_WORDS}")
    return ParsedQuery(alternatives)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts5_alternative(terms: tuple[Term, ...]) -> str:
    wanted = " AND ".join(_quoted(t.text) for t in terms if not t.excluded)
    unwanted = " OR ".join(_quoted(t.text) for t in terms if t.excluded)
    return f"(({wanted}) NOT ({unwanted}))" if unwanted else f"({wanted})"


# --- the search ------------------------------------------------------------------------------------------


def search(session: Session, query: str, filters: Filters, limit: int) -> list[SearchHit]:
    """The `limit` best articles matching `query` among those `filters` keep, best first."""
    parsed = parse_query(query)
    on_sqlite = session.get_bind().dialect.name == "sqlite"
    if not on_sqlite:
        _raise_work_mem(session)
    index = _sqlite_index(parsed) if on_sqlite else _postgresql_index(parsed)
    ranked = (
        index.matching(stored_articles(session, filters))
        .with_only_columns(Article.id.label("id"), index.rank.label("rank"))
        .order_by(index.rank.desc(), Article.id.desc())
        .limit(limit)
        .subquery()
    )
    # Snippets in the outer query: made for the rows the limit kept, not for every match.
    day = period_of(session, "day")
    details = (
        select(ranked.c.id, ranked.c.rank, day, Source.name, Article.title, Article.url, index.snippet)
        .join(Article, Article.id == ranked.c.id)
        .outerjoin(Source, Source.id == Article.source_id)
    )
    rows = session.execute(index.matching(details).order_by(ranked.c.rank.desc(), ranked.c.id.desc()))
    return [
        SearchHit(id, str(day or ""), outlet or "", title or "", url, float(rank), _one_line(snippet))
        for id, rank, day, outlet, title, url, snippet in rows
    ]


def _raise_work_mem(session: Session) -> None:
    """At least SEARCH_WORK_MEM of work_mem for this transaction (SET LOCAL), never less than the server's.

    PostgreSQL collects a word's matches in a bitmap of work_mem: past it the bitmap keeps pages, not rows,
    and every row of those pages is checked again. At the default 4 MB, ranking a word found in 200,000
    of a million articles took 2.15 s; at 32 MB, 1.27 s.
    """
    session.execute(
        text(
            "SELECT set_config('work_mem', :wanted, true) "
            "WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(:wanted)"
        ),
        {"wanted": SEARCH_WORK_MEM},
    )


def _one_line(snippet: str | None) -> str:
    """The snippet's paragraphs and runs of spaces as single spaces: one line in a table or a CSV cell."""
    return " ".join((snippet or "").split())


@dataclass(frozen=True, slots=True)
class _Index:
    """One database's full-text index, as the search uses it."""

    match: ColumnElement[bool]
    rank: ColumnElement[Any]  # higher is better
    snippet: ColumnElement[Any]
    table: TableClause | None = None  # SQLite's FTS table, joined wherever its functions are used

    def matching(self, query: Select[Any]) -> Select[Any]:
        """`query` (which selects from `articles`) kept to the articles that match."""
        if self.table is not None:
            query = query.join(self.table, self.table.c.rowid == Article.id)
        return query.where(self.match)


def _sqlite_index(parsed: ParsedQuery) -> _Index:
    fts = table(FTS_TABLE, column("rowid", Integer))
    whole_row = literal_column(FTS_TABLE)  # the FTS table's hidden column of its own name: the whole row
    return _Index(
        match=whole_row.op("MATCH")(parsed.fts5()),
        # bm25 is lower for better matches; its weights are for the FTS table's columns, title and text.
        rank=-func.bm25(whole_row, TITLE_WEIGHT, 1.0),
        snippet=func.snippet(whole_row, 1, *MARK, "…", SNIPPET_WORDS),  # column 1: the text
        table=fts,
    )


def _postgresql_index(parsed: ParsedQuery) -> _Index:
    english = literal_column("'english'::regconfig")
    tsquery = func.websearch_to_tsquery(english, parsed.websearch())
    vector = literal_column(f"{Article.__tablename__}.{TSVECTOR_COLUMN}")
    marks = f"StartSel={MARK[0]}, StopSel={MARK[1]}"
    options = f"{marks}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}"
    return _Index(
        match=vector.op("@@")(tsquery),
        rank=func.ts_rank_cd(vector, tsquery, 1),  # 1: divided by 1 + log(length), as bm25 weighs length
        snippet=func.ts_headline(english, func.left(Article.text, INDEXED_CHARACTERS), tsquery, options),
    )
