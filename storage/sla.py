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
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, false, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import ClaimRow, TicketEventRow, TicketRow
from workflows.model import (
    EventKind,
    Form,
    Plan,
    Priority,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)

ZONE_KIND = "sla_zone"
_CHUNK = 500  # stay well under SQLite's bound-parameter limit

_T = TicketRow.__table__
_E = TicketEventRow.__table__
_C = ClaimRow.__table__
_IDS = bindparam("ids", expanding=True)

# the columns `ticket_from_row` reads, in its order
_TICKET_COLUMNS = tuple(_T.c[name] for name in (
    "id", "form", "subject", "description", "category", "priority", "environment",
    "mattermost_version", "mobile_version", "mobile_device", "cc_user_ids", "requester_id",
    "requester_username", "organisation", "plan", "status", "assignee_id", "hold", "card_post_id",
    "customer_channel_id", "customer_root_id", "next_deadline_at", "follow_up_of", "created_at",
    "updated_at"))
# value -> member: what Form(value) etc. return, without the enum call's overhead (an unknown
# value still raises ValueError through the call)
_FORMS, _PRIORITIES = Form._value2member_map_, Priority._value2member_map_
_PLANS, _STATUSES = Plan._value2member_map_, Status._value2member_map_
_KINDS = EventKind._value2member_map_

_EVENTS = (select(_E.c.id, _E.c.ticket_id, _E.c.kind, _E.c.at, _E.c.actor_id, _E.c.from_value,
                  _E.c.to_value, _E.c.data)
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
_TICKETS = select(*_TICKET_COLUMNS).where(_T.c.id.in_(_IDS))
_LOCK = (select(*_TICKET_COLUMNS)
         .where(_T.c.id.in_(_IDS), _T.c.next_deadline_at <= bindparam("before"))
         .order_by(_T.c.id))
_LOCK_PG = _LOCK.with_for_update(skip_locked=True)
# SQLite: an UPDATE that matches nothing still begins the write transaction and takes the lock
_TAKE_WRITE_LOCK = update(_T).where(false()).values(next_deadline_at=_T.c.next_deadline_at)
_ADD_EVENT = insert(_E)
_SET_DEADLINE = (update(_T).where(_T.c.id == bindparam("tid"))
                 .values(next_deadline_at=bindparam("at")))
_CLEAR_DEADLINES = update(_T).where(_T.c.id.in_(_IDS)).values(next_deadline_at=None)


def ticket_from_row(row: Sequence[Any]) -> Ticket:
    """A row of `_TICKET_COLUMNS` as the domain ticket; the same as `TicketRow.to_domain`."""
    (tid, form, subject, description, category, priority, environment, mattermost_version,
     mobile_version, mobile_device, cc_user_ids, requester_id, requester_username, organisation,
     plan, status, assignee_id, hold, card_post_id, customer_channel_id, customer_root_id,
     next_deadline_at, follow_up_of, created_at, updated_at) = row
    return Ticket(
        tid,
        TicketForm(_FORMS.get(form) or Form(form), subject, description, category,
                   _PRIORITIES.get(priority) or Priority(priority), environment,
                   mattermost_version, mobile_version, mobile_device, tuple(cc_user_ids or ())),
        Requester(requester_id, requester_username, organisation,
                  (_PLANS.get(plan) or Plan(plan)) if plan else None),
        _STATUSES.get(status) or Status(status), created_at, updated_at, assignee_id, hold,
        card_post_id, customer_channel_id, customer_root_id, next_deadline_at, follow_up_of,
    )


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
            for eid, tid, kind, at, actor, before, after, data in await conn.execute(
                    _EVENTS, {"ids": chunk}):
                event = TicketEvent(tid, _KINDS.get(kind) or EventKind(kind), at, actor, before,
                                    after, dict(data or {}), eid)
                if (log := out.get(tid)) is None:
                    out[tid] = [event]
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
