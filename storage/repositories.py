"""SQL repositories: select() in, domain objects out. They flush, never commit (the UoW does)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    EVENT_COLUMNS,
    TICKET_COLUMNS,
    ClaimRow,
    CustomerRow,
    TicketCcRow,
    TicketEventRow,
    TicketRow,
    event_fields,
    event_from_row,
    ticket_fields,
    ticket_from_row,
)
from storage.upsert import upsert
from workflows.model import PRIORITY_RANK, Customer, Priority, Status, Ticket, TicketEvent


class TicketFilter(Protocol):
    """What find() reads of commands.ports.TicketQuery (storage may not import commands)."""

    @property
    def statuses(self) -> frozenset[Status] | None: ...
    @property
    def priority(self) -> Priority | None: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def unassigned(self) -> bool: ...
    @property
    def plan(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def involving_user_id(self) -> str | None: ...
    @property
    def limit(self) -> int: ...


# Unknown priorities (a later feature adding one before this map learns it) sort last.
_PRIORITY_ORDER = case(
    {priority.value: rank for priority, rank in PRIORITY_RANK.items()},
    value=TicketRow.priority,
    else_=len(PRIORITY_RANK),
)


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    if bind is None:
        raise RuntimeError(
            "the session must be bound to an engine (use storage.db.session_factory)"
        )
    return bind.dialect.name


_POST_COLUMNS = frozenset({"card_post_id", "customer_channel_id", "customer_root_id"})

# New tickets and events are written with one Core INSERT ... RETURNING id: the ORM's
# add-and-flush of a single row cost ~1.2 ms against ~0.3-0.5 ms (issue 10; three events and a
# ticket per intake). Nothing reads them back through the session's identity map.
_TICKETS, _EVENTS = TicketRow.__table__, TicketEventRow.__table__
_INSERT_TICKET = insert(_TICKETS).returning(_TICKETS.c.id)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)


# Hot reads (a card render, the SLA hooks) as Core rows, without the ORM's instance bookkeeping
_TICKET_BY_ID = select(*TICKET_COLUMNS).where(_TICKETS.c.id == bindparam("id"))
_EVENTS_OF_TICKET = (select(*EVENT_COLUMNS).where(_EVENTS.c.ticket_id == bindparam("ticket_id"))
                     .order_by(_EVENTS.c.at, _EVENTS.c.id))


@functools.cache
def _setting_posts(columns: frozenset[str]) -> Any:
    return (update(_TICKETS).where(_TICKETS.c.id == bindparam("b_id"))
            .values(**{c: bindparam(c) for c in sorted(columns)}))


class SqlTicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, ticket: Ticket) -> Ticket:
        """Insert a new ticket (id None); return it with the id the database gave it."""
        if ticket.id is not None:  # an explicit id would leave PostgreSQL's sequence behind
            raise ValueError(f"add() takes a new ticket, not #{ticket.id}; use save()")
        new_id = (await self._session.execute(_INSERT_TICKET,
                                              ticket_fields(ticket))).scalar_one()
        await self._replace_cc(new_id, ticket.form.cc_user_ids, new=True)
        return replace(ticket, id=new_id)

    async def get(self, ticket_id: int) -> Ticket | None:
        row = (await self._session.execute(_TICKET_BY_ID, {"id": ticket_id})).first()
        return ticket_from_row(row) if row else None

    async def get_for_update(self, ticket_id: int) -> Ticket | None:
        """Read and row-lock the ticket until the unit of work ends.

        PostgreSQL takes SELECT ... FOR UPDATE; SQLite's compiler leaves the clause out (it
        locks the whole database on the first write instead), so there it is a plain read.
        """
        stmt = (
            select(TicketRow)
            .where(TicketRow.id == ticket_id)
            .with_for_update()
            .execution_options(populate_existing=True)  # never a stale row from the identity map
        )
        row = await self._session.scalar(stmt)
        return row.to_domain() if row else None

    async def save(self, ticket: Ticket) -> None:
        """Write every mutable field of a stored ticket; raise LookupError if it is not stored."""
        if ticket.id is None:
            raise ValueError("save() needs a stored ticket; use add() for a new one")
        row = await self._session.get(TicketRow, ticket.id)
        if row is None:
            raise LookupError(f"ticket #{ticket.id} does not exist")
        old_cc = tuple(row.cc_user_ids or ())
        row.update_from(ticket)
        await self._session.flush()
        if old_cc != ticket.form.cc_user_ids:
            await self._replace_cc(ticket.id, ticket.form.cc_user_ids)

    async def set_posts(self, ticket_id: int, **posts: str) -> bool:
        """Record where the ticket's card or customer thread were posted (only those columns,
        one UPDATE: no read first); False if there is no such ticket."""
        unknown = set(posts) - _POST_COLUMNS
        if unknown:
            raise ValueError(f"not a post column: {sorted(unknown)}")
        stmt = _setting_posts(frozenset(posts))
        return bool((await self._session.execute(stmt, {**posts, "b_id": ticket_id})).rowcount)

    async def get_by_card_post(self, post_id: str) -> Ticket | None:
        return await self._one(TicketRow.card_post_id == post_id)

    async def get_by_customer_root(self, root_id: str) -> Ticket | None:
        return await self._one(TicketRow.customer_root_id == root_id)

    async def find(self, query: TicketFilter) -> list[Ticket]:
        """Tickets matching every given filter, most urgent first, then oldest first."""
        stmt = select(TicketRow)
        if query.statuses is not None:
            stmt = stmt.where(TicketRow.status.in_(sorted(s.value for s in query.statuses)))
        if query.priority is not None:
            stmt = stmt.where(TicketRow.priority == query.priority.value)
        if query.assignee_id is not None:
            stmt = stmt.where(TicketRow.assignee_id == query.assignee_id)
        if query.unassigned:
            stmt = stmt.where(TicketRow.assignee_id.is_(None))
        if query.plan is not None:
            plan = query.plan.lower()
            stmt = stmt.where(
                TicketRow.plan.is_(None) if plan == "none" else TicketRow.plan == plan
            )
        if query.category is not None:
            stmt = stmt.where(TicketRow.category == query.category)
        if query.involving_user_id is not None:
            user_id = query.involving_user_id
            cc_of_user = select(TicketCcRow.ticket_id).where(TicketCcRow.user_id == user_id)
            stmt = stmt.where(or_(TicketRow.requester_id == user_id, TicketRow.id.in_(cc_of_user)))
        stmt = stmt.order_by(_PRIORITY_ORDER, TicketRow.created_at, TicketRow.id).limit(
            query.limit
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def due(self, before: datetime, limit: int = 500) -> list[Ticket]:
        """Tickets whose next deadline is at or before `before`, earliest first.

        Served by the partial index ix_tickets_next_deadline_at (next_deadline_at, id).
        """
        stmt = (
            select(TicketRow)
            .where(TicketRow.next_deadline_at <= before)
            .order_by(TicketRow.next_deadline_at, TicketRow.id)
            .limit(limit)
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def unannounced(self, limit: int = 100) -> list[Ticket]:
        """Stored tickets whose card or customer thread was not posted yet (ix_tickets_unannounced)."""
        stmt = (
            select(TicketRow)
            .where(or_(TicketRow.card_post_id.is_(None), TicketRow.customer_root_id.is_(None)))
            .order_by(TicketRow.id)
            .limit(limit)
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def count_by_status(self) -> dict[Status, int]:
        """Every status, with 0 for those that have no ticket."""
        stmt = select(TicketRow.status, func.count()).group_by(TicketRow.status)
        counts = dict.fromkeys(Status, 0)
        for status, count in await self._session.execute(stmt):
            counts[Status(status)] = count
        return counts

    async def _one(self, condition: Any) -> Ticket | None:
        row = await self._session.scalar(select(TicketRow).where(condition))
        return row.to_domain() if row else None

    async def _replace_cc(self, ticket_id: int, user_ids: Sequence[str], new: bool = False) -> None:
        if not new:  # a new ticket has no memberships to remove
            await self._session.execute(
                delete(TicketCcRow).where(TicketCcRow.ticket_id == ticket_id))
        unique_ids = dict.fromkeys(user_ids)  # a user CC'd twice is one membership
        if unique_ids:
            self._session.add_all(TicketCcRow(ticket_id=ticket_id, user_id=u) for u in unique_ids)
            await self._session.flush()


class SqlEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: TicketEvent) -> TicketEvent:
        values = event_fields(event)
        return replace(event, id=(await self._session.execute(_INSERT_EVENT, values)).scalar_one())

    async def for_ticket(self, ticket_id: int) -> list[TicketEvent]:
        rows = await self._session.execute(_EVENTS_OF_TICKET, {"ticket_id": ticket_id})
        return [event_from_row(row) for row in rows]

    async def between(self, start: datetime, end: datetime) -> list[TicketEvent]:
        """Events with start <= at < end (half-open, so consecutive windows never overlap)."""
        stmt = (
            select(TicketEventRow)
            .where(TicketEventRow.at >= start, TicketEventRow.at < end)
            .order_by(TicketEventRow.at, TicketEventRow.id)
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]


CUSTOMERS_LOCK_KEY = 0x5355_5050_4355  # replicas (issue 8): "SUPPCU", any fixed bigint


class SqlCustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_all(self, customers: Sequence[Customer]) -> None:
        # --- replicas (issue 8): replicas starting together replace the list in turn; without
        # the lock the second one's DELETE misses the first one's new rows and its INSERT fails
        # on pk_customers (found by tests/reliability/test_replicas.py). Held until commit.
        if _dialect(self._session) == "postgresql":
            await self._session.execute(select(func.pg_advisory_xact_lock(CUSTOMERS_LOCK_KEY)))
        # --- end replicas ---
        await self._session.execute(delete(CustomerRow))
        self._session.add_all(CustomerRow.from_domain(c) for c in customers)
        await self._session.flush()

    async def all(self) -> list[Customer]:
        rows = await self._session.scalars(select(CustomerRow).order_by(CustomerRow.name))
        return [row.to_domain() for row in rows]


_CLAIM = upsert(ClaimRow, ("kind", "key", "value"), conflict=("kind", "key"), returning=("kind",))
_SET_CLAIM = upsert(ClaimRow, ("kind", "key", "value"), conflict=("kind", "key"), update=("value",))


class SqlClaimRepository:
    """Exactly-once markers. `claim` is one INSERT ... ON CONFLICT DO NOTHING: a lost race
    returns False without raising, so the caller's transaction stays usable."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, kind: str, key: str, value: str = "") -> bool:
        """True if this call created (kind, key). On PostgreSQL a concurrent uncommitted claim
        of the same key makes this wait for that transaction: False if it commits, True if not."""
        params = {"kind": kind, "key": key, "value": value}
        return (await self._session.execute(_CLAIM, params)).first() is not None

    async def get(self, kind: str, key: str) -> str | None:
        stmt = select(ClaimRow.value).where(ClaimRow.kind == kind, ClaimRow.key == key)
        value: str | None = await self._session.scalar(stmt)
        return value

    async def release(self, kind: str, key: str) -> None:
        """Give a claim back (the work it guarded failed and must be retried)."""
        await self._session.execute(
            delete(ClaimRow).where(ClaimRow.kind == kind, ClaimRow.key == key)
        )

    async def by_kind(self, kind: str, limit: int = 1000) -> list[tuple[str, str]]:
        """(key, value) pairs of one kind, oldest first."""
        stmt = (select(ClaimRow.key, ClaimRow.value).where(ClaimRow.kind == kind)
                .order_by(ClaimRow.created_at, ClaimRow.key).limit(limit))
        return [(k, v) for k, v in await self._session.execute(stmt)]

    async def set(self, kind: str, key: str, value: str) -> None:
        await self._session.execute(_SET_CLAIM, {"kind": kind, "key": key, "value": value})
