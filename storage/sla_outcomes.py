"""Stored SLA outcomes (issue 10): one row per first/next-reply wait of a ticket, kept in step with
its log by the ticket funnel (commands/sla_outcomes.py), read by the daily summary by time.

A ticket has a row for its first-reply wait ("first") as soon as the funnel has measured it; a
ticket without that row (imported, or older than migration 0008) is measured from its log instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    delete,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, TicketEventRow, UtcDateTime
from storage.upsert import upsert
from workflows.sla import FIRST_CYCLE_KEY, Metric
from workflows.sla_outcomes import Outcome, Verdict


class SlaOutcomeRow(Base):
    __tablename__ = "sla_outcomes"
    __table_args__ = (
        # attainment: waits decided (met at the reply, breached at the deadline) in a period
        Index("ix_sla_outcomes_decided_at", "decided_at"),
        # reply medians: waits answered in a period
        Index("ix_sla_outcomes_ended_at", "ended_at"),
    )

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    cycle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied: Mapped[bool] = mapped_column(Boolean)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def to_domain(self) -> Outcome:
        return _outcome(*(getattr(self, c.key) for c in COLUMNS))


COLUMNS = tuple(SlaOutcomeRow.__table__.c)
# Read by period as plain rows, the instants as stored (SQLite: text) and parsed by _utc: a few
# hundred rows a day, where UtcDateTime's per-value processing would be most of the read.
RAW = tuple(type_coerce(c, Text) if isinstance(c.type, UtcDateTime) else c for c in COLUMNS)


def _utc(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite: UTC as text, without a zone
        return datetime.fromisoformat(value + "+00:00")
    return value if value is None else value.astimezone(UTC)


def _outcome(
    ticket_id: int, metric: str, cycle_key: str, verdict: str, started_at: datetime,
    ended_at: datetime | None, replied: bool, decided_at: datetime | None,
) -> Outcome:
    return Outcome(ticket_id, _METRICS[metric], cycle_key, _VERDICTS[verdict], started_at,
                   ended_at, bool(replied), decided_at)


_METRICS = {m.value: m for m in Metric}
_VERDICTS = {v.value: v for v in Verdict}


def _values(o: Outcome) -> dict[str, object]:
    return {
        "ticket_id": o.ticket_id,
        "metric": o.metric.value,
        "cycle_key": o.cycle_key,
        "verdict": o.verdict.value,
        "started_at": o.started_at,
        "ended_at": o.ended_at,
        "replied": o.replied,
        "decided_at": o.decided_at,
    }


_WRITE = upsert(SlaOutcomeRow, ("ticket_id", "metric", "cycle_key", "verdict", "started_at",
                                "ended_at", "replied", "decided_at"),
                 conflict=("ticket_id", "metric", "cycle_key"),
                 update=("verdict", "started_at", "ended_at", "replied", "decided_at"))


class SqlSlaOutcomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_ticket(self, ticket_id: int) -> list[Outcome]:
        stmt = select(SlaOutcomeRow).where(SlaOutcomeRow.ticket_id == ticket_id)
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def write(self, upsert: Sequence[Outcome], remove: Sequence[Outcome] = ()) -> None:
        """Insert or overwrite `upsert` and delete `remove` (by ticket, metric and wait)."""
        for o in upsert:
            await self._session.execute(_WRITE, _values(o))
        if remove:
            keys = [(o.ticket_id, o.metric.value, o.cycle_key) for o in remove]
            await self._session.execute(
                delete(SlaOutcomeRow).where(
                    tuple_(SlaOutcomeRow.ticket_id, SlaOutcomeRow.metric,
                           SlaOutcomeRow.cycle_key).in_(keys)
                )
            )

    async def in_period(self, start: datetime, end: datetime) -> list[Outcome]:
        """Waits answered in [start, end) or decided in it: one read of two index ranges
        (ix_sla_outcomes_ended_at, ix_sla_outcomes_decided_at), bounded by the period's
        activity, not by history."""
        o = SlaOutcomeRow
        stmt = select(*RAW).where(
            or_(
                and_(o.ended_at >= start, o.ended_at < end, o.replied.is_(True)),
                and_(o.decided_at >= start, o.decided_at < end),
            )
        )
        return [_outcome(t, m, k, v, _utc(a), _utc(b), r, _utc(d))
                for t, m, k, v, a, b, r, d in await self._session.execute(stmt)]

    async def unmeasured(self, start: datetime, end: datetime, kinds: Iterable[str]) -> list[int]:
        """Tickets with an event of `kinds` in [start, end) and no stored first-reply wait: their
        waits were never measured by the funnel (imported, or older than the table)."""
        e = TicketEventRow
        measured = (
            select(SlaOutcomeRow.ticket_id)
            .where(
                SlaOutcomeRow.ticket_id == e.ticket_id,
                SlaOutcomeRow.metric == Metric.FIRST_REPLY.value,
                SlaOutcomeRow.cycle_key == FIRST_CYCLE_KEY,
            )
            .exists()
        )
        stmt = (
            select(e.ticket_id)
            .where(and_(e.kind.in_(sorted(kinds)), e.at >= start, e.at < end), ~measured)
            .distinct()
        )
        return sorted(await self._session.scalars(stmt))
