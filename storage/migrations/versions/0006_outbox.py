"""Durable outbox of outbound messages (issue 8).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MM_ID = 26
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = "state = 'pending'"


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("body", JSON_DOC, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _aware(), nullable=False),
        sa.Column("lease_until", _aware(), nullable=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("done_at", _aware(), nullable=True),
        sa.Column("post_id", sa.String(MM_ID), nullable=True),
        sa.Column("channel_id", sa.String(MM_ID), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
        sqlite_autoincrement=True,
    )
    # The heads of the lanes with something to send, and the next one due, without a scan.
    op.create_index("ix_outbox_pending_lane", "outbox", ["lane", "id"],
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
    op.create_index("ix_outbox_pending_next_at", "outbox", ["next_at"],
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
    op.create_index("ix_outbox_done_at", "outbox", ["done_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_done_at", table_name="outbox")
    op.drop_index("ix_outbox_pending_next_at", table_name="outbox")
    op.drop_index("ix_outbox_pending_lane", table_name="outbox")
    op.drop_table("outbox")
