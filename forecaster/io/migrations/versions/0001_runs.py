"""The first run store: runs, their per-product scores and the forecast each made.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("first_date", sa.Date, nullable=False),
        sa.Column("last_date", sa.Date, nullable=False),
        sa.Column("n_products", sa.Integer, nullable=False),
        sa.Column("products", sa.JSON, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("headline", sa.JSON, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("library_version", sa.String(32), nullable=False),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_table(
        "run_products",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("sold", sa.Float), sa.Column("forecast", sa.Float), sa.Column("mae", sa.Float),
        sa.Column("rmse", sa.Float), sa.Column("bias", sa.Float), sa.Column("mae_seasonal_naive", sa.Float),
    )
    op.create_table(
        "forecasts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("forecast", sa.Float, nullable=False),
        sa.Column("lower", sa.Float), sa.Column("median", sa.Float), sa.Column("upper", sa.Float),
        sa.Column("order_quantity", sa.Float), sa.Column("closed", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forecasts")
    op.drop_table("run_products")
    op.drop_index("ix_runs_created_at", "runs")
    op.drop_table("runs")
