"""every article has an outlet (articles.source_id); outlets unique by registrable domain

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema.

    sources.domain held the feed's host ("feeds.bbci.co.uk"), not unique. It becomes the registrable domain
    ("bbci.co.uk"), held by one outlet at most; the next run writes it again from the feeds, by the public
    suffix list, which a migration should not depend on. Articles get their outlet the same way: the next
    run assigns every article still without one (newsetl.flows.outlets).
    """
    op.execute("UPDATE sources SET domain = NULL")
    op.create_index(op.f("ix_sources_domain"), "sources", ["domain"], unique=True)
    # Not in batch mode: SQLite would copy `articles`, which other tables' rows point at (see 0004). SQLite
    # adds a column with its REFERENCES clause in place, but cannot ALTER a constraint in afterwards.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE articles ADD COLUMN source_id INTEGER REFERENCES sources (id)")
    else:
        op.add_column("articles", sa.Column("source_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_articles_source_id_sources"), "articles", "sources", ["source_id"], ["id"]
        )
    op.create_index(op.f("ix_articles_source_id"), "articles", ["source_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_articles_source_id"), table_name="articles")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("source_id")
    op.drop_index(op.f("ix_sources_domain"), table_name="sources")
