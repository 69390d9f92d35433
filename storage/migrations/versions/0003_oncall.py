"""Schema for on-call overrides and pages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MM_ID = 26
OPEN_PAGES = "resolved_at IS NULL"


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(MM_ID), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("from_at", _aware(), nullable=False),
        sa.Column("to_at", _aware(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(MM_ID), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_overrides"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_oncall_overrides_to_at", "oncall_overrides", ["to_at"])
    op.create_table(
        "oncall_pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("paged_at", _aware(), nullable=False),
        sa.Column("acknowledged_at", _aware(), nullable=True),
        sa.Column("acknowledged_by", sa.String(MM_ID), nullable=True),
        sa.Column("resolved_at", _aware(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_oncall_pages_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_pages"),
        sa.UniqueConstraint("ticket_id", "round", "level",
                            name="uq_oncall_pages_ticket_id_round_level"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_oncall_pages_open", "oncall_pages", ["ticket_id"],
                    postgresql_where=sa.text(OPEN_PAGES), sqlite_where=sa.text(OPEN_PAGES))


def downgrade() -> None:
    op.drop_index("ix_oncall_pages_open", table_name="oncall_pages")
    op.drop_table("oncall_pages")
    op.drop_index("ix_oncall_overrides_to_at", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
