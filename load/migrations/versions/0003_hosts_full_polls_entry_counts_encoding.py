"""hosts (Retry-After across runs), daily full feed polls, entry counts per poll, page encoding

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hosts")),
    )
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_full_poll_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        for name in ("entries_without_link", "entries_duplicate", "dates_nulled"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encoding", sa.String(length=40), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("encoding")
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        for name in ("dates_nulled", "entries_duplicate", "entries_without_link"):
            batch_op.drop_column(name)
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("last_full_poll_at")
    op.drop_table("hosts")
