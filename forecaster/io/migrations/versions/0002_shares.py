"""Share links, and where a run came from (the dashboard or the command line) with room for more.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="cli"))
        batch.add_column(sa.Column("extra", sa.JSON, nullable=True))
    op.create_table(
        "shares",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_shares_run_id", "shares", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_shares_run_id", "shares")
    op.drop_table("shares")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("extra")
        batch.drop_column("source")
