"""tagger versions side by side (article_taggings; tagger in the tag tables' keys), entity aliases,
mention surfaces, topic rows that did not pass the threshold

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    _create_article_taggings()
    _create_entity_aliases()
    # The tagger joins each tag table's key, so a retag under a new version adds rows beside the old.
    with op.batch_alter_table("article_entities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("surfaces", sa.JSON(), nullable=True))
        batch_op.drop_constraint("pk_article_entities", type_="primary")
        batch_op.create_primary_key("pk_article_entities", ["article_id", "entity_id", "tagger"])
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passed", sa.Boolean(), server_default="1", nullable=False))
        batch_op.drop_constraint("pk_article_topics", type_="primary")
        batch_op.create_primary_key("pk_article_topics", ["article_id", "topic_id", "tagger"])
    # Not in batch mode: SQLite would copy `articles`, and dropping the original fails once other tables'
    # rows point at it (foreign keys are on). SQLite drops a column in place since 3.35.
    op.drop_column("articles", "tag_truncated")
    op.drop_column("articles", "tagger")


def _create_article_taggings() -> None:
    op.create_table(
        "article_taggings",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("tagger", sa.String(length=200), nullable=False),
        sa.Column("tagged_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("truncated", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_taggings_article_id_articles")
        ),
        sa.PrimaryKeyConstraint("article_id", "tagger", name=op.f("pk_article_taggings")),
    )
    op.create_index(op.f("ix_article_taggings_tagger"), "article_taggings", ["tagger"], unique=False)
    # What articles.tagger and articles.tag_truncated said: each tagged article's one version so far.
    op.execute(
        "INSERT INTO article_taggings (article_id, tagger, tagged_at, truncated) "
        "SELECT id, tagger, COALESCE(fetched_at, first_seen_at), tag_truncated FROM articles "
        "WHERE tagger IS NOT NULL"
    )


def _create_entity_aliases() -> None:
    op.create_table(
        "entity_aliases",
        sa.Column("alias", sa.String(length=300), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("articles", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_entity_aliases_entity_id_entities")
        ),
        sa.PrimaryKeyConstraint("alias", "entity_id", name=op.f("pk_entity_aliases")),
    )
    op.create_index(op.f("ix_entity_aliases_entity_id"), "entity_aliases", ["entity_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema. Tags of all but one version per article are lost: the old keys hold one."""
    op.add_column("articles", sa.Column("tagger", sa.String(length=200), nullable=True))
    op.add_column("articles", sa.Column("tag_truncated", sa.Boolean(), server_default="0", nullable=False))
    op.execute(
        "UPDATE articles SET tagger = (SELECT MAX(t.tagger) FROM article_taggings t "
        "WHERE t.article_id = articles.id)"
    )
    for table in ("article_entities", "article_topics"):
        op.execute(
            f"DELETE FROM {table} WHERE tagger <> (SELECT a.tagger FROM articles a "
            f"WHERE a.id = {table}.article_id)"
        )
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.drop_constraint("pk_article_topics", type_="primary")
        batch_op.create_primary_key("pk_article_topics", ["article_id", "topic_id"])
        batch_op.drop_column("passed")
    with op.batch_alter_table("article_entities", schema=None) as batch_op:
        batch_op.drop_constraint("pk_article_entities", type_="primary")
        batch_op.create_primary_key("pk_article_entities", ["article_id", "entity_id"])
        batch_op.drop_column("surfaces")
    op.drop_index(op.f("ix_entity_aliases_entity_id"), table_name="entity_aliases")
    op.drop_table("entity_aliases")
    op.drop_index(op.f("ix_article_taggings_tagger"), table_name="article_taggings")
    op.drop_table("article_taggings")
