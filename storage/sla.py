"""SLA reads in bulk: tickets and event logs for many tickets at once, requester zones.

The requester's time zone is kept as a claims record ("sla_zone", ticket id) written at intake,
so the SLA hook and the scheduled check never call Mattermost for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, false, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClaimRow, TicketEventRow, TicketRow
from workflows.model import Ticket, TicketEvent

ZONE_KIND = "sla_zone"
_CHUNK = 500  # stay well under SQLite's bound-parameter limit


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


class SqlSlaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.bind is not None and session.bind.dialect.name == "postgresql"

    async def tickets(self, ids: Iterable[int]) -> list[Ticket]:
        out: list[Ticket] = []
        for chunk in _chunks(ids):
            rows = await self._session.scalars(select(TicketRow).where(TicketRow.id.in_(chunk)))
            out += [r.to_domain() for r in rows]
        return sorted(out, key=lambda t: t.id or 0)

    async def events(self, ids: Iterable[int]) -> dict[int, list[TicketEvent]]:
        """Each ticket's log in time order (ix_ticket_events_ticket_id_at)."""
        out: dict[int, list[TicketEvent]] = {}
        for chunk in _chunks(ids):
            stmt = (select(TicketEventRow).where(TicketEventRow.ticket_id.in_(chunk))
                    .order_by(TicketEventRow.ticket_id, TicketEventRow.at, TicketEventRow.id))
            for row in await self._session.scalars(stmt):
                out.setdefault(row.ticket_id, []).append(row.to_domain())
        return out

    async def touched_between(self, start: datetime, end: datetime) -> list[int]:
        """Tickets with any event in [start, end) (ix_ticket_events_at_kind)."""
        stmt = (select(TicketEventRow.ticket_id)
                .where(TicketEventRow.at >= start, TicketEventRow.at < end).distinct())
        return sorted(await self._session.scalars(stmt))

    async def zones(self, ticket_ids: Sequence[int]) -> dict[int, str]:
        """The stored requester zone name per ticket (tickets without one are left out)."""
        out: dict[int, str] = {}
        for chunk in _chunks(ticket_ids):
            stmt = select(ClaimRow.key, ClaimRow.value).where(
                ClaimRow.kind == ZONE_KIND, ClaimRow.key.in_([str(i) for i in chunk]))
            out.update({int(k): v for k, v in await self._session.execute(stmt)})
        return out

    # --- the SLA check (issue 10): a light read, then one write transaction per batch ---------
    async def due_people(self, before: datetime, limit: int) -> list[tuple[int, str | None, str]]:
        """(id, assignee id, requester id) of the tickets due at `before`, earliest first, as
        `tickets.due` finds them (ix_tickets_next_deadline_at), without loading whole tickets."""
        stmt = (select(TicketRow.id, TicketRow.assignee_id, TicketRow.requester_id)
                .where(TicketRow.next_deadline_at <= before)
                .order_by(TicketRow.next_deadline_at, TicketRow.id).limit(limit))
        return [(r.id, r.assignee_id, r.requester_id) for r in await self._session.execute(stmt)]

    async def lock_due(self, ids: Sequence[int], before: datetime) -> list[Ticket]:
        """These tickets that are still due at `before`, read as stored now and locked until the
        unit of work ends. PostgreSQL: FOR UPDATE SKIP LOCKED (a ticket another transaction is
        changing right now is left to the next run). SQLite: the database's write lock is taken
        first, so nothing changes between this read and the commit."""
        if not ids:
            return []
        wanted = (TicketRow.id.in_(sorted(set(ids))), TicketRow.next_deadline_at <= before)
        stmt = select(TicketRow).where(*wanted).order_by(TicketRow.id)
        if self._postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        else:  # an UPDATE that matches nothing still begins the transaction and takes the lock
            table = TicketRow.__table__
            await self._session.execute(
                update(table).where(false()).values(next_deadline_at=table.c.next_deadline_at))
        stmt = stmt.execution_options(populate_existing=True)
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def add_events(self, events: Sequence[TicketEvent]) -> None:
        """Log many events in one executemany (nothing reads their ids back)."""
        if events:
            await self._session.execute(
                insert(TicketEventRow.__table__),
                [{"ticket_id": e.ticket_id, "kind": e.kind.value, "at": e.at,
                  "actor_id": e.actor_id, "from_value": e.from_value, "to_value": e.to_value,
                  "data": dict(e.data)} for e in events])

    async def set_deadlines(self, deadlines: dict[int, datetime | None]) -> None:
        """Store each ticket's next SLA instant in one executemany (the tickets are locked by
        `lock_due`). On PostgreSQL, measured faster than one UPDATE joined to VALUES."""
        if deadlines:
            table = TicketRow.__table__
            await self._session.execute(
                update(table).where(table.c.id == bindparam("tid"))
                .values(next_deadline_at=bindparam("at")),
                [{"tid": tid, "at": at} for tid, at in deadlines.items()])
