"""full-text index on articles (title and text): FTS5 on SQLite, a tsvector column with GIN on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: an external-content FTS5 table over `articles` (Datasette finds it there and offers a search
# box), kept in step by triggers in the writer's transaction. Porter stems words much as PostgreSQL's
# 'english' (Snowball) does; accents are kept, as 'english' keeps them.
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 0')",
    # Not in batch mode, ever: SQLite would copy `articles` (see 0004), and the copy has none of these
    # triggers; a later migration that has to copy it must create them again.
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    # A delete must repeat exactly what was indexed: the old row.
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    # An upsert sets every column: only a changed title or text is indexed again.
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles
    WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",  # the articles stored so far
]
_SQLITE_DOWN = [
    "DROP TRIGGER articles_fts_update",
    "DROP TRIGGER articles_fts_delete",
    "DROP TRIGGER articles_fts_insert",
    "DROP TABLE articles_fts",
]

# PostgreSQL refuses a tsvector of over 1 MB of distinct words, which would make the article's insert fail:
# it indexes the first 100,000 characters of a title and of a text (at most 400 kB of UTF-8 each), as many
# as the tagger reads. SQLite has no such limit and indexes them whole.
INDEXED = 100_000

# PostgreSQL: a stored generated column is computed by every insert and update, and for the rows stored so
# far by the ALTER itself (which rewrites the table). Title weighted A, text B, for ts_rank_cd.
_POSTGRESQL_UP = [
    f"""ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(left(title, {INDEXED}), '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(left(text, {INDEXED}), '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
]
_POSTGRESQL_DOWN = [
    "DROP INDEX ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN search_vector",
]


def upgrade() -> None:
    """Upgrade schema."""
    for statement in _SQLITE_UP if _on_sqlite() else _POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    for statement in _SQLITE_DOWN if _on_sqlite() else _POSTGRESQL_DOWN:
        op.execute(statement)


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
