"""Read-only queries for the daily summary. Every query is bounded by the period's activity, never
by total history or by the size of the backlog: lists are LIMIT walks of an index, and counts that
would otherwise scan the backlog or weeks of events read small tables kept by triggers
(migration 0008): tickets per (status, priority, unassigned), events per (hour, kind, values)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql.selectable import Select

from storage.models import Base, TicketEventRow, TicketRow, UtcDateTime
from workflows.model import Status, Ticket, TicketEvent

ACTIVE = (Status.NEW.value, Status.OPEN.value, Status.PENDING.value)
WAITING_ON_US = (Status.NEW.value, Status.OPEN.value)  # SLA clocks run; Pending pauses them
IN_CHUNK = 500  # ids per IN (...) list
HOUR = timedelta(hours=1)
COUNTED_KINDS = ("opened", "reopened", "sla_breached", "status_changed")  # summary_event_hours


# --- counts kept by triggers (issue 10; migration 0008 creates the triggers and fills them) -----
class TicketCountRow(Base):
    """How many tickets are in each (status, priority, unassigned) cell. Spread over `shard`
    (ticket id % 8) so that concurrent writers on PostgreSQL rarely wait on the same row."""

    __tablename__ = "summary_ticket_counts"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    unassigned: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)


class EventHourRow(Base):
    """How many events of COUNTED_KINDS each UTC hour has, by (kind, from_value, to_value); ''
    stands for a missing value. Feeds the chart's 14 days without reading their events."""

    __tablename__ = "summary_event_hours"

    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    from_value: Mapped[str] = mapped_column(Text, primary_key=True)
    to_value: Mapped[str] = mapped_column(Text, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


UNASSIGNED = "assignee_id IS NULL"
# The oldest unassigned tickets of one status: a LIMIT walk, however many there are.
Index(
    "ix_tickets_unassigned_status_created_at",
    TicketRow.status,
    TicketRow.created_at,
    TicketRow.id,
    sqlite_where=text(UNASSIGNED),
    postgresql_where=text(UNASSIGNED),
)


class SqlSummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._counts: dict[tuple[str, str, bool], int] | None = None
        bind = session.bind
        self._postgres = bind is not None and bind.dialect.name == "postgresql"

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
        """(status, priority) -> count for New, Open and Pending (summary_ticket_counts)."""
        out: dict[tuple[str, str], int] = {}
        for (status, priority, _), n in (await self._cells()).items():
            if status in ACTIVE:
                out[(status, priority)] = out.get((status, priority), 0) + n
        return out

    async def _cells(self) -> dict[tuple[str, str, bool], int]:
        """(status, priority, unassigned) -> tickets, non-zero cells: read once per repository
        (one unit of work) for the backlog, unassigned and Pending counts alike."""
        if self._counts is None:
            c = TicketCountRow
            stmt = select(c.status, c.priority, c.unassigned, func.sum(c.n)).group_by(
                c.status, c.priority, c.unassigned
            )
            rows = await self._session.execute(stmt)
            self._counts = {(s, p, bool(u)): int(n) for s, p, u, n in rows if n}
        return self._counts

    async def unassigned(self, limit: int) -> tuple[int, list[Ticket]]:
        """Active tickets nobody holds: how many (summary_ticket_counts), and the oldest first
        (a LIMIT walk of ix_tickets_unassigned_status_created_at per status, merged)."""
        cells = await self._cells()
        total = sum(n for (s, _, unassigned), n in cells.items() if unassigned and s in ACTIVE)
        found = await self._session.scalars(_oldest_unassigned(), {"n": limit})
        return total, [row.to_domain() for row in found]

    async def overdue(self, now: datetime, limit: int) -> tuple[int, list[Ticket]]:
        """New/Open tickets whose next deadline has passed, most overdue first (deadline index)."""
        where = and_(TicketRow.next_deadline_at <= now, TicketRow.status.in_(WAITING_ON_US))
        return await self._counted(where, (TicketRow.next_deadline_at, TicketRow.id), limit)

    async def breached_open(
        self, since: datetime, limit: int
    ) -> tuple[int, list[tuple[Ticket, datetime]]]:
        """New/Open tickets with an SLA breach logged since `since` and no public reply after it:
        how many, and the oldest breaches first with their instant (ix_ticket_events_kind_at_*)."""
        rows = (await self._session.execute(_breached_open(), {"since": since, "n": limit})).all()
        total = rows[0][2] if rows else 0
        return int(total), [(row.to_domain(), _aware(at)) for row, at, _ in rows]

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
        """Pending tickets untouched since `before` (updated_at), oldest first. Counted as all
        Pending (summary_ticket_counts) less those touched since `before` (a short index range)."""
        pending = Status.PENDING.value
        every = sum(n for (s, _, _), n in (await self._cells()).items() if s == pending)
        recent = await self._session.scalar(
            select(func.count())
            .select_from(TicketRow)
            .where(TicketRow.status == pending, TicketRow.updated_at >= before)
        )
        rows = await self._session.scalars(
            select(TicketRow)
            .where(TicketRow.status == pending, TicketRow.updated_at < before)
            .order_by(TicketRow.updated_at, TicketRow.id)
            .limit(limit)
        )
        return every - int(recent or 0), [row.to_domain() for row in rows]

    async def event_counts_per_day(
        self, days: Sequence[tuple[datetime, datetime]], kinds: Iterable[str]
    ) -> list[list[tuple[str, str | None, str | None, int]]]:
        """event_counts() for each of several consecutive periods (the chart's days), in one
        grouped read of summary_event_hours for the whole hours inside them, plus the log for
        the parts of an hour at their edges (a day ending now; zones off the UTC hour)."""
        kinds = sorted(set(kinds))
        if not set(kinds) <= set(COUNTED_KINDS):
            raise ValueError(f"only {COUNTED_KINDS} are counted by hour, not {kinds}")
        if not days:
            return []
        out: list[dict[tuple[str, str | None, str | None], int]] = [{} for _ in days]
        inner = [(_ceil_hour(a), _floor_hour(b)) for a, b in days]
        params: dict[str, Any] = {"kinds": kinds}
        for i, (lo, hi) in enumerate(inner):  # a day within one hour reads none: lo = hi
            params |= {f"lo{i}": lo, f"hi{i}": max(lo, hi)}
        for i, kind, before, after, n in await self._session.execute(
            _hours_per_day(len(days), self._postgres), params
        ):
            if i >= 0 and n:  # -1: an hour split between two days: counted from the log
                key = (kind, before or None, after or None)
                out[i][key] = out[i].get(key, 0) + int(n)
        for i, ((start, end), (lo, hi)) in enumerate(zip(days, inner, strict=True)):
            edges = [(start, end)] if lo >= hi else [(start, lo), (hi, end)]
            for a, b in edges:
                if a < b:
                    for kind, before, after, n in await self.event_counts(a, b, kinds):
                        key = (kind, before, after)
                        out[i][key] = out[i].get(key, 0) + n
        return [[(*k, n) for k, n in sorted(d.items(), key=str)] for d in out]

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
        for tickets not Closed. Reads only those events (ix_ticket_events_kind_at_*): no GROUP BY
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


# Statements built once (bind parameters for the values): building these costs more than
# running them (an aliased entity, subqueries), and the summary runs each once per build.


@functools.cache
def _breached_open() -> Select[tuple[TicketRow, datetime, int]]:
    """New/Open tickets with an SLA breach since :since and no public reply after it, oldest
    breach first, :n of them, each with the breach instant and how many there are in all."""
    breach = (
        select(
            TicketEventRow.ticket_id.label("ticket_id"),
            func.max(TicketEventRow.at).label("at"),
        )
        .where(TicketEventRow.kind == "sla_breached", TicketEventRow.at >= bindparam("since"))
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
    return (
        select(TicketRow, breach.c.at, func.count().over())  # the total, before LIMIT
        .join(breach, breach.c.ticket_id == TicketRow.id)
        .where(TicketRow.status.in_(WAITING_ON_US), ~answered)
        .order_by(breach.c.at, TicketRow.id)
        .limit(bindparam("n", type_=Integer))
    )


@functools.cache
def _oldest_unassigned() -> Select[tuple[TicketRow]]:
    """The :n oldest unassigned active tickets: :n per status from the partial index, merged."""
    oldest = [
        select(TicketRow.id)
        .where(TicketRow.status == status, text(UNASSIGNED))
        .order_by(TicketRow.created_at, TicketRow.id)
        .limit(bindparam("n", type_=Integer))
        .subquery()
        for status in ACTIVE
    ]
    return (
        select(TicketRow)
        .where(TicketRow.id.in_(union_all(*(select(q.c.id) for q in oldest))))
        .order_by(TicketRow.created_at, TicketRow.id)
        .limit(bindparam("n", type_=Integer))
    )


@functools.cache
def _hours_per_day(days: int, postgres: bool) -> Select[tuple[int, str, str, str, int]]:
    """summary_event_hours summed per day, for `days` consecutive [:lo{i}, :hi{i}) ranges and
    :kinds. SQLite: the days as a derived table joined to the hours, one index range each.
    PostgreSQL misjudges that join (it expects thousands of rows per day, and starts parallel
    workers that cost more than the query): one range over all the days instead, each hour given
    its day by a CASE (SQLite takes twice as long over that)."""
    h = EventHourRow

    def at(name: str) -> Any:
        return bindparam(name, type_=UtcDateTime)

    if postgres:
        day: Any = case(
            *((and_(h.hour >= at(f"lo{i}"), h.hour < at(f"hi{i}")), i) for i in range(days)),
            else_=-1,
        ).label("day")
        stmt = select(day, h.kind, h.from_value, h.to_value, func.sum(h.n)).where(
            h.hour >= at("lo0"), h.hour < at(f"hi{days - 1}")
        )
    else:
        d = union_all(*(
            select(literal_column(str(i)).label("day"), at(f"lo{i}").label("lo"),
                   at(f"hi{i}").label("hi"))
            for i in range(days)
        )).subquery("d")  # fmt: skip
        day = d.c.day
        stmt = select(day, h.kind, h.from_value, h.to_value, func.sum(h.n)).join(
            h, and_(h.hour >= d.c.lo, h.hour < d.c.hi)
        )
    return stmt.where(h.kind.in_(bindparam("kinds", expanding=True))).group_by(
        day, h.kind, h.from_value, h.to_value
    )


def _floor_hour(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(at: datetime) -> datetime:
    floor = _floor_hour(at)
    return floor if floor == at else floor + HOUR


def _aware(at: datetime | str) -> datetime:
    """max(at) comes back untyped on SQLite (text): parse it and attach UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i : i + IN_CHUNK]
