"""Schema for escalations to the Sustained Engineering Team.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in storage.models: a migration must not change when models do.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MM_ID = 26
OPEN = "closed_at IS NULL"


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("tracker_link", sa.Text(), nullable=True),
        sa.Column("card_post_id", sa.String(MM_ID), nullable=True),
        sa.Column("opened_by", sa.String(MM_ID), nullable=False),
        sa.Column("opened_at", _aware(), nullable=False),
        sa.Column("updated_at", _aware(), nullable=False),
        sa.Column("closed_at", _aware(), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name="fk_escalations_ticket_id_tickets", ondelete="CASCADE"),
        sqlite_autoincrement=True,
    )
    op.create_index("uq_escalations_open_ticket", "escalations", ["ticket_id"], unique=True,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_index("ix_escalations_closed_at_stage", "escalations", ["closed_at", "stage"])


def downgrade() -> None:
    op.drop_index("ix_escalations_closed_at_stage", table_name="escalations")
    op.drop_index("uq_escalations_open_ticket", table_name="escalations")
    op.drop_table("escalations")
