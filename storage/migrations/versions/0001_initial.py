"""Initial schema: tickets, their CC list, events, customers and claims.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in storage.models: a migration must not change when models do.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MM_ID = 26


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(64), nullable=True),
        sa.Column("mattermost_version", sa.String(64), nullable=True),
        sa.Column("mobile_version", sa.String(64), nullable=True),
        sa.Column("mobile_device", sa.String(128), nullable=True),
        sa.Column("cc_user_ids", JSON_DOC, nullable=False),
        sa.Column("requester_id", sa.String(MM_ID), nullable=False),
        sa.Column("requester_username", sa.String(64), nullable=False),
        sa.Column("organisation", sa.String(255), nullable=True),
        sa.Column("plan", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.String(MM_ID), nullable=True),
        sa.Column("hold", sa.Boolean(), nullable=False),
        sa.Column("card_post_id", sa.String(MM_ID), nullable=True),
        sa.Column("customer_channel_id", sa.String(MM_ID), nullable=True),
        sa.Column("customer_root_id", sa.String(MM_ID), nullable=True),
        sa.Column("next_deadline_at", _aware(), nullable=True),
        sa.Column("follow_up_of", sa.Integer(), nullable=True),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("updated_at", _aware(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("card_post_id", name="uq_tickets_card_post_id"),
        sa.UniqueConstraint("customer_root_id", name="uq_tickets_customer_root_id"),
        sa.ForeignKeyConstraint(
            ["follow_up_of"],
            ["tickets.id"],
            name="fk_tickets_follow_up_of_tickets",
            ondelete="SET NULL",
        ),
        sqlite_autoincrement=True,  # ticket numbers are shown to users: never reuse one
    )
    op.create_index(
        "ix_tickets_status_priority_created_at", "tickets", ["status", "priority", "created_at"]
    )
    op.create_index(
        "ix_tickets_next_deadline_at",
        "tickets",
        ["next_deadline_at", "id"],
        postgresql_where=sa.text("next_deadline_at IS NOT NULL"),
        sqlite_where=sa.text("next_deadline_at IS NOT NULL"),
    )
    op.create_index("ix_tickets_assignee_id_status", "tickets", ["assignee_id", "status"])
    op.create_index("ix_tickets_requester_id", "tickets", ["requester_id"])

    op.create_table(
        "ticket_cc",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(MM_ID), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name="pk_ticket_cc"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_cc_ticket_id_tickets",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_ticket_cc_user_id", "ticket_cc", ["user_id"])

    op.create_table(
        "ticket_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", _aware(), nullable=False),
        sa.Column("actor_id", sa.String(MM_ID), nullable=True),
        sa.Column("from_value", sa.Text(), nullable=True),
        sa.Column("to_value", sa.Text(), nullable=True),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_events_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ticket_events_ticket_id_at", "ticket_events", ["ticket_id", "at"])
    op.create_index("ix_ticket_events_at_kind", "ticket_events", ["at", "kind"])

    op.create_table(
        "customers",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("plan", sa.String(16), nullable=True),
        sa.Column("email_domains", JSON_DOC, nullable=False),
        sa.Column("usernames", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_customers"),
    )

    op.create_table(
        "claims",
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", _aware(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_claims"),
    )


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("customers")
    op.drop_index("ix_ticket_events_at_kind", table_name="ticket_events")
    op.drop_index("ix_ticket_events_ticket_id_at", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_ticket_cc_user_id", table_name="ticket_cc")
    op.drop_table("ticket_cc")
    op.drop_index("ix_tickets_requester_id", table_name="tickets")
    op.drop_index("ix_tickets_assignee_id_status", table_name="tickets")
    op.drop_index("ix_tickets_next_deadline_at", table_name="tickets")
    op.drop_index("ix_tickets_status_priority_created_at", table_name="tickets")
    op.drop_table("tickets")
