"""Schema for daily summaries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rare event kinds (escalation stages, pages, ratings) by time, without scanning every event
    # of the window: keeps the summary flat in total history.
    op.create_index("ix_ticket_events_kind_at", "ticket_events", ["kind", "at"])
    # "Pending longer than N days": a range of one index instead of every Pending row.
    op.create_index("ix_tickets_status_updated_at", "tickets", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_status_updated_at", table_name="tickets")
    op.drop_index("ix_ticket_events_kind_at", table_name="ticket_events")
