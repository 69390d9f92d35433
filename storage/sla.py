"""SLA reads in bulk: tickets and event logs for many tickets at once, requester zones.

The requester's time zone is kept as a claims record ("sla_zone", ticket id) written at intake,
so the SLA hook and the scheduled check never call Mattermost for it.

Statements are built once, here, and run through Core with expanding IN parameters: SQLAlchemy
compiles each once per process (its statement cache), and rows become domain objects directly,
without ORM instances, an identity map or `populate_existing` (issue 10: the scheduled check's
cost per due ticket was mostly this per-row machinery). Nothing here reads unflushed ORM
changes: callers use these in units of work that have not changed tickets or events yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import String, and_, bindparam, cast, false, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import (
    EVENT_COLUMNS,
    TICKET_COLUMNS,
    ClaimRow,
    TicketEventRow,
    TicketRow,
    event_from_row,
    ticket_from_row,
)
from workflows.model import Ticket, TicketEvent

ZONE_KIND = "sla_zone"
_CHUNK = 500  # stay well under SQLite's bound-parameter limit

_T = TicketRow.__table__
_E = TicketEventRow.__table__
_C = ClaimRow.__table__
_IDS = bindparam("ids", expanding=True)

_EVENTS = (select(*EVENT_COLUMNS)
           .where(_E.c.ticket_id.in_(_IDS))
           .order_by(_E.c.ticket_id, _E.c.at, _E.c.id))  # ix_ticket_events_ticket_id_at
_TOUCHED = (select(_E.c.ticket_id)
            .where(_E.c.at >= bindparam("start"), _E.c.at < bindparam("end")).distinct())
_ZONES = select(_C.c.key, _C.c.value).where(_C.c.kind == ZONE_KIND,
                                            _C.c.key.in_(bindparam("keys", expanding=True)))
# the check's light read: who is due, and their stored zone (claims' primary key) in one query
_DUE = (select(_T.c.id, _T.c.assignee_id, _T.c.requester_id, _C.c.value)
        .select_from(_T.outerjoin(_C, and_(_C.c.kind == ZONE_KIND,
                                           _C.c.key == cast(_T.c.id, String))))
        .where(_T.c.next_deadline_at <= bindparam("before"))  # ix_tickets_next_deadline_at
        .order_by(_T.c.next_deadline_at, _T.c.id).limit(bindparam("limit")))
_TICKETS = select(*TICKET_COLUMNS).where(_T.c.id.in_(_IDS))
_LOCK = (select(*TICKET_COLUMNS)
         .where(_T.c.id.in_(_IDS), _T.c.next_deadline_at <= bindparam("before"))
         .order_by(_T.c.id))
_LOCK_PG = _LOCK.with_for_update(skip_locked=True)
# SQLite: an UPDATE that matches nothing still begins the write transaction and takes the lock
_TAKE_WRITE_LOCK = update(_T).where(false()).values(next_deadline_at=_T.c.next_deadline_at)
_ADD_EVENT = insert(_E)
_SET_DEADLINE = (update(_T).where(_T.c.id == bindparam("tid"))
                 .values(next_deadline_at=bindparam("at")))
_CLEAR_DEADLINES = update(_T).where(_T.c.id.in_(_IDS)).values(next_deadline_at=None)


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


class SqlSlaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.bind is not None and session.bind.dialect.name == "postgresql"

    async def _conn(self) -> AsyncConnection:
        """The unit of work's connection and transaction (begun if need be)."""
        return await self._session.connection()

    async def tickets(self, ids: Iterable[int]) -> list[Ticket]:
        out: list[Ticket] = []
        conn = await self._conn()
        for chunk in _chunks(ids):
            out += [ticket_from_row(r) for r in await conn.execute(_TICKETS, {"ids": chunk})]
        return sorted(out, key=lambda t: t.id or 0)

    async def events(self, ids: Iterable[int]) -> dict[int, list[TicketEvent]]:
        """Each ticket's log in time order (ix_ticket_events_ticket_id_at)."""
        out: dict[int, list[TicketEvent]] = {}
        conn = await self._conn()
        for chunk in _chunks(ids):
            for row in await conn.execute(_EVENTS, {"ids": chunk}):
                event = event_from_row(row)
                if (log := out.get(event.ticket_id)) is None:
                    out[event.ticket_id] = [event]
                else:
                    log.append(event)
        return out

    async def touched_between(self, start: datetime, end: datetime) -> list[int]:
        """Tickets with any event in [start, end) (ix_ticket_events_at_kind)."""
        conn = await self._conn()
        return sorted(await conn.scalars(_TOUCHED, {"start": start, "end": end}))

    async def zones(self, ticket_ids: Sequence[int]) -> dict[int, str]:
        """The stored requester zone name per ticket (tickets without one are left out)."""
        out: dict[int, str] = {}
        conn = await self._conn()
        for chunk in _chunks(ticket_ids):
            rows = await conn.execute(_ZONES, {"keys": [str(i) for i in chunk]})
            out.update({int(k): v for k, v in rows})
        return out

    # --- the SLA check (issue 10): a light read, then one write transaction per batch ---------
    async def due_people(self, before: datetime,
                         limit: int) -> list[tuple[int, str | None, str, str | None]]:
        """(id, assignee id, requester id, stored zone or None) of the tickets due at `before`,
        earliest first, as `tickets.due` finds them (ix_tickets_next_deadline_at), without
        loading whole tickets; the zone is what `zones` would give (claims' primary key)."""
        conn = await self._conn()
        rows = await conn.execute(_DUE, {"before": before, "limit": limit})
        return [(tid, assignee, requester, zone) for tid, assignee, requester, zone in rows]

    async def lock_due(self, ids: Sequence[int], before: datetime) -> list[Ticket]:
        """These tickets that are still due at `before`, read as stored now and locked until the
        unit of work ends. PostgreSQL: FOR UPDATE SKIP LOCKED (a ticket another transaction is
        changing right now is left to the next run). SQLite: the database's write lock is taken
        first, so nothing changes between this read and the commit."""
        if not ids:
            return []
        conn = await self._conn()
        if not self._postgres:
            await conn.execute(_TAKE_WRITE_LOCK)
        rows = await conn.execute(_LOCK_PG if self._postgres else _LOCK,
                                  {"ids": sorted(set(ids)), "before": before})
        return [ticket_from_row(r) for r in rows]

    async def add_events(self, events: Sequence[TicketEvent]) -> None:
        """Log many events in one executemany (nothing reads their ids back)."""
        if events:
            conn = await self._conn()
            await conn.execute(
                _ADD_EVENT,
                [{"ticket_id": e.ticket_id, "kind": e.kind.value, "at": e.at,
                  "actor_id": e.actor_id, "from_value": e.from_value, "to_value": e.to_value,
                  "data": dict(e.data)} for e in events])

    async def set_deadlines(self, deadlines: dict[int, datetime | None]) -> None:
        """Store each ticket's next SLA instant (the tickets are locked by `lock_due`): the
        tickets left without one (every clock met, breached and reported, or paused) in one
        UPDATE ... IN, the others in one executemany (on PostgreSQL, measured faster than one
        UPDATE joined to VALUES)."""
        if not deadlines:
            return
        conn = await self._conn()
        cleared = [tid for tid, at in deadlines.items() if at is None]
        for lo in range(0, len(cleared), _CHUNK):
            await conn.execute(_CLEAR_DEADLINES, {"ids": cleared[lo : lo + _CHUNK]})
        dated = [{"tid": tid, "at": at} for tid, at in deadlines.items() if at is not None]
        if dated:
            await conn.execute(_SET_DEADLINE, dated)
