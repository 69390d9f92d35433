"""Summary performance (issue 10): counts kept by triggers, stored SLA outcomes, one index.

- summary_ticket_counts: tickets per (status, priority, unassigned, shard), kept by triggers on
  tickets, so the backlog and the unassigned count never scan the backlog.
- summary_event_hours: events of the chart's kinds per (UTC hour, kind, from, to), kept by a
  trigger on ticket_events, so the 14-day chart never reads 14 days of events.
- sla_outcomes: each first/next-reply wait, written by the ticket funnel (commands/summary/
  outcomes.py); not filled here: tickets without rows are measured from their log.
- ix_tickets_unassigned_status_created_at: the oldest unassigned tickets, a LIMIT walk.
- ix_ticket_events_kind_at_ticket_id replaces 0005's ix_ticket_events_kind_at (kind, at).

Both counts are filled from the existing rows here (one grouped pass over each table) before
the triggers are created (a bulk load does the same: see benchmarks/summary_build.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 8  # storage/summary.py TicketCountRow
KINDS = "('opened', 'reopened', 'sla_breached', 'status_changed')"  # COUNTED_KINDS
UNASSIGNED = "assignee_id IS NULL"
SQLITE_HOUR = "substr({at}, 1, 13) || ':00:00.000000'"  # how SQLAlchemy stores DateTime
POSTGRES_HOUR = "date_trunc('hour', {at} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _tables()
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in fill_counts(postgres):
        _run(statement)
    for statement in triggers(postgres):
        _run(statement)


def fill_counts(postgres: bool) -> list[str]:
    """Both count tables from the rows stored (one grouped pass each; the tables start empty).
    benchmarks/summary_build.py uses these (and `triggers`) to seed in bulk."""
    hour = (POSTGRES_HOUR if postgres else SQLITE_HOUR).format(at="at")
    return [
        "INSERT INTO summary_ticket_counts (status, priority, unassigned, shard, n) "
        f"SELECT status, priority, {UNASSIGNED}, id % {SHARDS}, count(*) FROM tickets "
        f"GROUP BY status, priority, {UNASSIGNED}, id % {SHARDS}",
        "INSERT INTO summary_event_hours (hour, kind, from_value, to_value, n) "
        f"SELECT {hour}, kind, coalesce(from_value, ''), coalesce(to_value, ''), count(*) "
        f"FROM ticket_events WHERE kind IN {KINDS} "
        f"GROUP BY {hour}, kind, coalesce(from_value, ''), coalesce(to_value, '')",
    ]


def triggers(postgres: bool) -> list[str]:
    return _postgres_triggers() if postgres else _sqlite_triggers()


SQLITE_TRIGGERS = (
    "summary_events_delete", "summary_events_insert", "summary_tickets_update",
    "summary_tickets_delete", "summary_tickets_insert",
)  # fmt: skip


def _run(sql: str) -> None:
    """Raw SQL: its colons (times, casts, :=) are not bind parameters."""
    op.execute(sa.text(sql.replace(":", "\\:")))


def _tables() -> None:
    op.create_table(
        "summary_ticket_counts",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("unassigned", sa.Boolean(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "status", "priority", "unassigned", "shard", name="pk_summary_ticket_counts"
        ),
    )
    op.create_table(
        "summary_event_hours",
        sa.Column("hour", _aware(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_value", sa.Text(), nullable=False),
        sa.Column("to_value", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "kind", "from_value", "to_value", name="pk_summary_event_hours"
        ),
    )
    op.create_table(
        "sla_outcomes",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("cycle_key", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("started_at", _aware(), nullable=False),
        sa.Column("ended_at", _aware(), nullable=True),
        sa.Column("replied", sa.Boolean(), nullable=False),
        sa.Column("decided_at", _aware(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_sla_outcomes_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("ticket_id", "metric", "cycle_key", name="pk_sla_outcomes"),
    )
    op.create_index("ix_sla_outcomes_decided_at", "sla_outcomes", ["decided_at"])
    op.create_index("ix_sla_outcomes_ended_at", "sla_outcomes", ["ended_at"])
    op.create_index(
        "ix_tickets_unassigned_status_created_at", "tickets", ["status", "created_at", "id"],
        postgresql_where=sa.text(UNASSIGNED), sqlite_where=sa.text(UNASSIGNED),
    )
    # 0005's (kind, at) with the ticket: the period's opened tickets and the tickets active in
    # it come from the index alone (on PostgreSQL, a heap read per event made those plans dear
    # enough to start parallel workers, which cost more than the queries).
    op.create_index(
        "ix_ticket_events_kind_at_ticket_id", "ticket_events", ["kind", "at", "ticket_id"]
    )
    op.drop_index("ix_ticket_events_kind_at", table_name="ticket_events")


# One counted cell per ticket; a change that moves no cell (most updates) touches no count.
_CELL_CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.priority IS DISTINCT FROM NEW.priority "
    "OR (OLD.assignee_id IS NULL) <> (NEW.assignee_id IS NULL)"
)


def _sqlite_triggers() -> list[str]:
    def add(row: str, step: str) -> str:
        return (
            "INSERT INTO summary_ticket_counts (status, priority, unassigned, shard, n) "
            f"VALUES ({row}.status, {row}.priority, {row}.assignee_id IS NULL, "
            f"{row}.id % {SHARDS}, {step}) ON CONFLICT (status, priority, unassigned, shard) "
            f"DO UPDATE SET n = n + {step};"
        )

    def hours(row: str, step: str) -> str:
        return (
            "INSERT INTO summary_event_hours (hour, kind, from_value, to_value, n) "
            f"VALUES ({SQLITE_HOUR.format(at=row + '.at')}, {row}.kind, "
            f"coalesce({row}.from_value, ''), coalesce({row}.to_value, ''), {step}) "
            "ON CONFLICT (hour, kind, from_value, to_value) "
            f"DO UPDATE SET n = n + {step};"
        )

    changed = _CELL_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return [
        "CREATE TRIGGER summary_tickets_insert AFTER INSERT ON tickets "
        f"BEGIN {add('NEW', '1')} END",
        "CREATE TRIGGER summary_tickets_delete AFTER DELETE ON tickets "
        f"BEGIN {add('OLD', '-1')} END",
        "CREATE TRIGGER summary_tickets_update AFTER UPDATE OF status, priority, assignee_id "
        f"ON tickets WHEN {changed} BEGIN {add('OLD', '-1')} {add('NEW', '1')} END",
        "CREATE TRIGGER summary_events_insert AFTER INSERT ON ticket_events "
        f"WHEN NEW.kind IN {KINDS} BEGIN {hours('NEW', '1')} END",
        "CREATE TRIGGER summary_events_delete AFTER DELETE ON ticket_events "
        f"WHEN OLD.kind IN {KINDS} BEGIN {hours('OLD', '-1')} END",
    ]


def _postgres_triggers() -> list[str]:
    # An update moves a ticket between two cells; they are locked in key order, so two such
    # updates cannot deadlock on each other's cells.
    cell = "{row}.status, {row}.priority, {row}.assignee_id IS NULL, {row}.id % " + str(SHARDS)
    old, new = cell.format(row="OLD"), cell.format(row="NEW")
    return [
        """
        CREATE FUNCTION summary_count_ticket(s text, p text, u boolean, sh int, step int)
        RETURNS void LANGUAGE sql AS $$
            INSERT INTO summary_ticket_counts AS t (status, priority, unassigned, shard, n)
            VALUES (s, p, u, sh, step)
            ON CONFLICT (status, priority, unassigned, shard) DO UPDATE SET n = t.n + step
        $$
        """,
        f"""
        CREATE FUNCTION summary_count_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM summary_count_ticket({new}, 1);
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM summary_count_ticket({old}, -1);
            ELSIF ({old}) < ({new}) THEN
                PERFORM summary_count_ticket({old}, -1);
                PERFORM summary_count_ticket({new}, 1);
            ELSE
                PERFORM summary_count_ticket({new}, 1);
                PERFORM summary_count_ticket({old}, -1);
            END IF;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE FUNCTION summary_count_event_hours() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            e ticket_events;
            step int;
        BEGIN
            IF TG_OP = 'INSERT' THEN e := NEW; step := 1; ELSE e := OLD; step := -1; END IF;
            INSERT INTO summary_event_hours AS h (hour, kind, from_value, to_value, n)
            VALUES ({POSTGRES_HOUR.format(at='e.at')}, e.kind, coalesce(e.from_value, ''),
                    coalesce(e.to_value, ''), step)
            ON CONFLICT (hour, kind, from_value, to_value) DO UPDATE SET n = h.n + EXCLUDED.n;
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER summary_tickets_insert_delete AFTER INSERT OR DELETE ON tickets "
        "FOR EACH ROW EXECUTE FUNCTION summary_count_tickets()",
        "CREATE TRIGGER summary_tickets_update AFTER UPDATE OF status, priority, assignee_id "
        f"ON tickets FOR EACH ROW WHEN ({_CELL_CHANGED}) "
        "EXECUTE FUNCTION summary_count_tickets()",
        "CREATE TRIGGER summary_events_insert AFTER INSERT ON ticket_events FOR EACH ROW "
        f"WHEN (NEW.kind IN {KINDS}) EXECUTE FUNCTION summary_count_event_hours()",
        "CREATE TRIGGER summary_events_delete AFTER DELETE ON ticket_events FOR EACH ROW "
        f"WHEN (OLD.kind IN {KINDS}) EXECUTE FUNCTION summary_count_event_hours()",
    ]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER summary_events_delete ON ticket_events")
        op.execute("DROP TRIGGER summary_events_insert ON ticket_events")
        op.execute("DROP TRIGGER summary_tickets_update ON tickets")
        op.execute("DROP TRIGGER summary_tickets_insert_delete ON tickets")
        op.execute("DROP FUNCTION summary_count_event_hours()")
        op.execute("DROP FUNCTION summary_count_tickets()")
        op.execute("DROP FUNCTION summary_count_ticket(text, text, boolean, int, int)")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.create_index("ix_ticket_events_kind_at", "ticket_events", ["kind", "at"])
    op.drop_index("ix_ticket_events_kind_at_ticket_id", table_name="ticket_events")
    op.drop_index("ix_tickets_unassigned_status_created_at", table_name="tickets")
    op.drop_index("ix_sla_outcomes_ended_at", table_name="sla_outcomes")
    op.drop_index("ix_sla_outcomes_decided_at", table_name="sla_outcomes")
    op.drop_table("sla_outcomes")
    op.drop_table("summary_event_hours")
    op.drop_table("summary_ticket_counts")
