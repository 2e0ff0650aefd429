"""articles.day, the UTC day an article is counted on; views for the common questions: articles per
outlet and day (all, and tagged by each version), topic attention, entity mentions, entity pairs per
article, the latest tagger version

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:30:00

An article's day is its publication day, else the day it was first seen. A column rather than an
expression, so that every period query reads one index, and the views and the queries agree to the day.
The views are for people reading the database with sqlite3, psql, pandas or Datasette, without our code;
the README documents them column by column. They mean the same on both databases; only stored articles
(outcome 'ok') count.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = (
    "latest_tagger",
    "outlet_daily",
    "tagged_daily",
    "topic_daily",
    "entity_daily",
    "entity_pairs",
)


def _day_value(column: str) -> str:
    """The UTC day of a timestamp, as a value of a DATE column."""
    if op.get_bind().dialect.name == "sqlite":
        return f"date({column})"  # stored as naive UTC text
    return f"CAST(({column} AT TIME ZONE 'UTC') AS DATE)"


def _definitions() -> dict[str, str]:
    day = "CAST(a.day AS TEXT)"  # 'YYYY-MM-DD' on both: a DATE is text on SQLite
    # Stored articles with their day and outlet, once per tagger version that tagged them.
    tagged = f"""
        SELECT t.tagger, a.id AS article_id, a.source_id, {day} AS day
        FROM articles a JOIN article_taggings t ON t.article_id = a.id
        WHERE a.outcome = 'ok'"""
    return {
        "latest_tagger": """
            SELECT tagger FROM article_taggings ORDER BY tagged_at DESC, tagger LIMIT 1""",
        "outlet_daily": f"""
            SELECT {day} AS day, s.id AS source_id, s.name AS outlet, count(*) AS articles
            FROM articles a JOIN sources s ON s.id = a.source_id
            WHERE a.outcome = 'ok'
            GROUP BY {day}, s.id, s.name""",
        "tagged_daily": f"""
            WITH tagged AS ({tagged})
            SELECT g.day, g.tagger, s.id AS source_id, s.name AS outlet, count(*) AS articles
            FROM tagged g JOIN sources s ON s.id = g.source_id
            GROUP BY g.day, g.tagger, s.id, s.name""",
        "topic_daily": f"""
            WITH tagged AS ({tagged}),
            totals AS (
                SELECT {day} AS day, a.source_id, count(*) AS n FROM articles a WHERE a.outcome = 'ok'
                GROUP BY {day}, a.source_id),
            hits AS (
                SELECT g.tagger, g.day, g.source_id, tp.name AS topic, count(*) AS n
                FROM tagged g
                JOIN article_topics atp
                    ON atp.article_id = g.article_id AND atp.tagger = g.tagger AND atp.passed
                JOIN topics tp ON tp.id = atp.topic_id
                GROUP BY g.tagger, g.day, g.source_id, tp.name)
            SELECT h.day, h.tagger, h.topic, h.source_id, s.name AS outlet, h.n AS articles,
                   t.n AS outlet_articles, CAST(h.n AS DOUBLE PRECISION) / t.n AS attention
            FROM hits h
            JOIN totals t ON t.day = h.day AND t.source_id = h.source_id
            JOIN sources s ON s.id = h.source_id""",
        "entity_daily": f"""
            WITH tagged AS ({tagged})
            SELECT g.day, g.tagger, e.id AS entity_id, e.name AS entity, e.label,
                   count(*) AS articles, sum(ae.count) AS mentions
            FROM tagged g
            JOIN article_entities ae ON ae.article_id = g.article_id AND ae.tagger = g.tagger
            JOIN entities e ON e.id = ae.entity_id
            GROUP BY g.day, g.tagger, e.id, e.name, e.label""",
        "entity_pairs": f"""
            WITH tagged AS ({tagged})
            SELECT g.tagger, g.article_id, g.day, g.source_id,
                   e1.id AS entity_id, e1.name AS entity, e1.label AS label,
                   e2.id AS other_id, e2.name AS other, e2.label AS other_label
            FROM tagged g
            JOIN article_entities x ON x.article_id = g.article_id AND x.tagger = g.tagger
            JOIN article_entities y ON y.article_id = g.article_id AND y.tagger = g.tagger
                AND y.entity_id <> x.entity_id
            JOIN entities e1 ON e1.id = x.entity_id
            JOIN entities e2 ON e2.id = y.entity_id""",
    }


def upgrade() -> None:
    """Upgrade schema."""
    # In place, not in batch mode: SQLite would copy `articles`, which other tables point at (see 0004).
    op.add_column("articles", sa.Column("day", sa.Date(), nullable=True))
    op.execute(f"UPDATE articles SET day = {_day_value('coalesce(published_at, first_seen_at)')}")
    op.create_index(op.f("ix_articles_day"), "articles", ["day"], unique=False)
    _create_query_indexes()
    _create_day_counts()
    for name, query in _definitions().items():
        op.execute(f"CREATE VIEW {name} AS {query}")


def _create_query_indexes() -> None:
    """What the period queries read instead of rows (see load/models.py): on a million articles the
    weekly trend of a topic went from 5 s to a quarter of a second on SQLite."""
    stored = {"sqlite_where": sa.text("outcome = 'ok'"), "postgresql_where": sa.text("outcome = 'ok'")}
    op.create_index("ix_articles_stored_day", "articles", ["day", "source_id"], **stored)
    op.create_index("ix_articles_stored_id", "articles", ["id", "day", "source_id"], **stored)
    op.drop_index("ix_article_topics_topic_id", table_name="article_topics")
    op.create_index(
        "ix_article_topics_topic_tagger", "article_topics", ["topic_id", "tagger", "passed", "article_id"]
    )
    op.drop_index("ix_article_entities_entity_id", table_name="article_entities")
    op.create_index(
        "ix_article_entities_entity_tagger", "article_entities", ["entity_id", "tagger", "article_id"]
    )


def _create_day_counts() -> None:
    """The per-day counts trends read (load/rollups.py keeps them), filled from the rows there are."""
    op.create_table(
        "outlet_day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_outlet_day_counts_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("day", "source_id", name=op.f("pk_outlet_day_counts")),
    )
    op.create_table(
        "topic_day_counts",
        sa.Column("tagger", sa.String(length=200), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_topic_day_counts_source_id_sources")
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_topic_day_counts_topic_id_topics")
        ),
        sa.PrimaryKeyConstraint("tagger", "topic_id", "day", "source_id", name=op.f("pk_topic_day_counts")),
    )
    counted = "a.outcome = 'ok' AND a.source_id IS NOT NULL AND a.day IS NOT NULL"
    op.execute(
        "INSERT INTO outlet_day_counts (day, source_id, articles) "
        f"SELECT a.day, a.source_id, count(*) FROM articles a WHERE {counted} GROUP BY a.day, a.source_id"
    )
    op.execute(
        "INSERT INTO topic_day_counts (tagger, topic_id, day, source_id, articles) "
        "SELECT t.tagger, t.topic_id, a.day, a.source_id, count(*) "
        f"FROM article_topics t JOIN articles a ON a.id = t.article_id WHERE t.passed AND {counted} "
        "GROUP BY t.tagger, t.topic_id, a.day, a.source_id"
    )


def downgrade() -> None:
    """Downgrade schema."""
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("topic_day_counts")
    op.drop_table("outlet_day_counts")
    op.drop_index("ix_article_entities_entity_tagger", table_name="article_entities")
    op.create_index("ix_article_entities_entity_id", "article_entities", ["entity_id"])
    op.drop_index("ix_article_topics_topic_tagger", table_name="article_topics")
    op.create_index("ix_article_topics_topic_id", "article_topics", ["topic_id"])
    op.drop_index("ix_articles_stored_id", table_name="articles")
    op.drop_index("ix_articles_stored_day", table_name="articles")
    op.drop_index(op.f("ix_articles_day"), table_name="articles")
    # In place (SQLite 3.35+): a batch copy of `articles` would drop the full-text triggers 0006 put on it.
    op.drop_column("articles", "day")
