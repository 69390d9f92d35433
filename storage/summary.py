"""Read-only queries for the daily summary. Every query is bounded by the period's activity or by
the current backlog (served by an index), never by total history: counts are grouped in SQL and
lists are capped with LIMIT."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import TicketEventRow, TicketRow
from workflows.model import Status, Ticket, TicketEvent

ACTIVE = (Status.NEW.value, Status.OPEN.value, Status.PENDING.value)
WAITING_ON_US = (Status.NEW.value, Status.OPEN.value)  # SLA clocks run; Pending pauses them
IN_CHUNK = 500  # ids per IN (...) list


class SqlSummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def opened_groups(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, str, str | None, str, int]]:
        """(form, priority, plan, category, count) of tickets opened in [start, end).

        Driven by the OPENED events of the window (index ix_ticket_events_at_kind), joined to
        their tickets by primary key."""
        stmt = (
            select(
                TicketRow.form,
                TicketRow.priority,
                TicketRow.plan,
                TicketRow.category,
                func.count(),
            )
            .join(TicketEventRow, TicketEventRow.ticket_id == TicketRow.id)
            .where(
                TicketEventRow.at >= start,
                TicketEventRow.at < end,
                TicketEventRow.kind == "opened",
            )
            .group_by(TicketRow.form, TicketRow.priority, TicketRow.plan, TicketRow.category)
        )
        return [tuple(r) for r in await self._session.execute(stmt)]  # type: ignore[misc]

    async def event_counts(
        self, start: datetime, end: datetime, kinds: Iterable[str]
    ) -> list[tuple[str, str | None, str | None, int]]:
        """(kind, from_value, to_value, count) of events of `kinds` in [start, end)."""
        stmt = (
            select(
                TicketEventRow.kind,
                TicketEventRow.from_value,
                TicketEventRow.to_value,
                func.count(),
            )
            .where(
                TicketEventRow.at >= start,
                TicketEventRow.at < end,
                TicketEventRow.kind.in_(sorted(kinds)),
            )
            .group_by(TicketEventRow.kind, TicketEventRow.from_value, TicketEventRow.to_value)
        )
        return [tuple(r) for r in await self._session.execute(stmt)]  # type: ignore[misc]

    async def events_of(
        self, start: datetime, end: datetime, kinds: Iterable[str]
    ) -> list[TicketEvent]:
        """Events of `kinds` in [start, end), oldest first. Sorted here: an ORDER BY would make
        SQLite walk every event of the window (ix_ticket_events_at_kind), not only these kinds'."""
        stmt = select(TicketEventRow).where(
            TicketEventRow.at >= start,
            TicketEventRow.at < end,
            TicketEventRow.kind.in_(sorted(kinds)),
        )
        events = [row.to_domain() for row in await self._session.scalars(stmt)]
        return sorted(events, key=lambda e: (e.at, e.id or 0))

    async def backlog(self) -> dict[tuple[str, str], int]:
        """(status, priority) -> count for New, Open and Pending (index-only)."""
        stmt = (
            select(TicketRow.status, TicketRow.priority, func.count())
            .where(TicketRow.status.in_(ACTIVE))
            .group_by(TicketRow.status, TicketRow.priority)
        )
        return {(s, p): n for s, p, n in await self._session.execute(stmt)}

    async def unassigned(self, limit: int) -> tuple[int, list[Ticket]]:
        """Active tickets nobody holds: how many, and the oldest first."""
        where = and_(TicketRow.assignee_id.is_(None), TicketRow.status.in_(ACTIVE))
        return await self._counted(where, (TicketRow.created_at, TicketRow.id), limit)

    async def overdue(self, now: datetime, limit: int) -> tuple[int, list[Ticket]]:
        """New/Open tickets whose next deadline has passed, most overdue first (deadline index)."""
        where = and_(TicketRow.next_deadline_at <= now, TicketRow.status.in_(WAITING_ON_US))
        return await self._counted(where, (TicketRow.next_deadline_at, TicketRow.id), limit)

    async def breached_open(
        self, since: datetime, limit: int
    ) -> tuple[int, list[tuple[Ticket, datetime]]]:
        """New/Open tickets with an SLA breach logged since `since` and no public reply after it:
        how many, and the oldest breaches first with their instant (ix_ticket_events_kind_at)."""
        breach = (
            select(
                TicketEventRow.ticket_id.label("ticket_id"),
                func.max(TicketEventRow.at).label("at"),
            )
            .where(TicketEventRow.kind == "sla_breached", TicketEventRow.at >= since)
            .group_by(TicketEventRow.ticket_id)
            .subquery()
        )
        reply = aliased(TicketEventRow)
        answered = (
            select(reply.id)
            .where(
                reply.ticket_id == breach.c.ticket_id,
                reply.kind == "public_reply",
                reply.at > breach.c.at,
            )
            .exists()
        )
        where = and_(TicketRow.status.in_(WAITING_ON_US), ~answered)
        base = (
            select(TicketRow, breach.c.at)
            .join(breach, breach.c.ticket_id == TicketRow.id)
            .where(where)
        )
        total = await self._session.scalar(select(func.count()).select_from(base.subquery()))
        rows = await self._session.execute(base.order_by(breach.c.at, TicketRow.id).limit(limit))
        return int(total or 0), [(row.to_domain(), _aware(at)) for row, at in rows]

    async def next_due(self, now: datetime, limit: int) -> list[Ticket]:
        """New/Open tickets with the nearest future deadline (LIMIT walk of the deadline index)."""
        stmt = (
            select(TicketRow)
            .where(TicketRow.next_deadline_at > now, TicketRow.status.in_(WAITING_ON_US))
            .order_by(TicketRow.next_deadline_at, TicketRow.id)
            .limit(limit)
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def pending_since(self, before: datetime, limit: int) -> tuple[int, list[Ticket]]:
        """Pending tickets untouched since `before` (updated_at), oldest first."""
        where = and_(TicketRow.status == Status.PENDING.value, TicketRow.updated_at < before)
        return await self._counted(where, (TicketRow.updated_at, TicketRow.id), limit)

    async def tickets(self, ids: Iterable[int]) -> dict[int, Ticket]:
        out: dict[int, Ticket] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = await self._session.scalars(select(TicketRow).where(TicketRow.id.in_(chunk)))
            out.update((row.id, row.to_domain()) for row in rows)
        return out

    async def events_for(
        self, ids: Iterable[int], until: datetime
    ) -> dict[int, list[TicketEvent]]:
        """Every event before `until` of the given tickets, oldest first."""
        out: dict[int, list[TicketEvent]] = {}
        for chunk in _chunks(sorted(set(ids))):
            stmt = (
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id.in_(chunk), TicketEventRow.at < until)
                .order_by(TicketEventRow.ticket_id, TicketEventRow.at, TicketEventRow.id)
            )
            for row in await self._session.scalars(stmt):
                out.setdefault(row.ticket_id, []).append(row.to_domain())
        return out

    async def latest_stages(self, since: datetime, kinds: Iterable[str]) -> dict[int, str]:
        """ticket id -> the to_value (else the kind) of its latest event of `kinds` since `since`,
        for tickets not Closed. Reads only those events (ix_ticket_events_kind_at): no GROUP BY
        over the whole log, which SQLite would serve by scanning ix_ticket_events_ticket_id_at."""
        # No ORDER BY: with one, SQLite walks the (at, kind) index or the whole table instead.
        stmt = select(
            TicketEventRow.at,
            TicketEventRow.id,
            TicketEventRow.ticket_id,
            TicketEventRow.kind,
            TicketEventRow.to_value,
        ).where(TicketEventRow.kind.in_(sorted(kinds)), TicketEventRow.at >= since)
        rows = sorted(
            (_aware(at), i, t, k, v) for at, i, t, k, v in await self._session.execute(stmt)
        )
        latest = {t: (v or k) for _, _, t, k, v in rows}
        closed: set[int] = set()
        for chunk in _chunks(sorted(latest)):
            closed.update(
                await self._session.scalars(
                    select(TicketRow.id).where(
                        TicketRow.id.in_(chunk), TicketRow.status == Status.CLOSED.value
                    )
                )
            )
        return {t: v for t, v in latest.items() if t not in closed}

    async def _counted(
        self, where: Any, order: Sequence[Any], limit: int
    ) -> tuple[int, list[Ticket]]:
        total = await self._session.scalar(
            select(func.count()).select_from(TicketRow).where(where)
        )
        rows = await self._session.scalars(
            select(TicketRow).where(where).order_by(*order).limit(limit)
        )
        return int(total or 0), [row.to_domain() for row in rows]


def _aware(at: datetime | str) -> datetime:
    """max(at) comes back untyped on SQLite (text): parse it and attach UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i : i + IN_CHUNK]
