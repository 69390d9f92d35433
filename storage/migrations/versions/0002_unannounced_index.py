"""Index the tickets that still need announcing, so the retry job never scans all tickets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "card_post_id IS NULL OR customer_root_id IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_tickets_unannounced", "tickets", ["id"],
        postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_unannounced", table_name="tickets")
