"""The durable outbox: outbound messages queued with the change that caused them (flushes only).

Delivery leases the head of each lane (the oldest pending message of a ticket) with an UPDATE that
only one process can win; on PostgreSQL the candidate heads are read `FOR UPDATE SKIP LOCKED`, so
replicas take different lanes instead of queueing behind each other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index, Integer, String, Text, and_, bindparam, delete, func, literal_column, or_, select, text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import MM_ID, Base, BigId, JsonDoc, UtcDateTime
from storage.upsert import upsert
from workflows.outbox import Outbound, State

_PENDING = "state = 'pending'"
# The state compared as a literal, never a bound value: only then can the planner prove the
# partial indexes' predicate (SQLite re-plans per bound value, PostgreSQL's generic plans never
# use them): the lease read went from 92 to 15 us, the all-lanes one from a table scan (2.2 ms
# at 20k delivered messages, growing with the 30 days kept) to 7 us (issue 10).
_IS_PENDING = literal_column(f"'{State.PENDING.value}'")
# Outbox rows are never held in a session's identity map, so the ORM's UPDATE/DELETE need not
# keep it in step (its evaluator cannot read the literal and would fall back to a SELECT).


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending_lane", "lane", "id",
              sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)),
        Index("ix_outbox_pending_next_at", "next_at",
              sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)),
        Index("ix_outbox_done_at", "done_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    lane: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    state: Mapped[str] = mapped_column(String(8), default=State.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    holder: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    post_id: Mapped[str | None] = mapped_column(String(MM_ID))
    channel_id: Mapped[str | None] = mapped_column(String(MM_ID))
    error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Leased:
    """A message this process now holds the lease on, with what delivery needs to know."""

    id: int
    message: Outbound
    attempts: int  # including this one
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Produced:
    """What a delivered message made: the channel it went to and its post."""

    channel_id: str
    post_id: str


_T = OutboxRow.__table__


def _heads(*, in_lanes: bool) -> Any:
    """Built once (statement construction is most of a small query's cost): the lane heads
    that are due and not leased, oldest first. Core statements on the table: the ORM's
    statement plugin cost more than the SQL (issue 10)."""
    earlier = _T.alias()
    blocked = (select(earlier.c.id)
               .where(earlier.c.lane == _T.c.lane, earlier.c.state == _IS_PENDING,
                      earlier.c.id < _T.c.id)
               .exists())
    free = or_(_T.c.lease_until.is_(None), _T.c.lease_until < bindparam("now"))
    stmt = (select(_T.c.id)
            .where(_T.c.state == _IS_PENDING, _T.c.next_at <= bindparam("now"),
                   free, ~blocked)
            .order_by(_T.c.next_at, _T.c.id).limit(bindparam("limit")))
    if in_lanes:
        stmt = stmt.where(_T.c.lane.in_(bindparam("lanes", expanding=True)))
    return stmt


_HEADS = _heads(in_lanes=False)
_WAITING = (select(_T.c.lane, _T.c.body)
            .where(_T.c.state == _IS_PENDING,
                   _T.c.lane.in_(bindparam("lanes", expanding=True)),
                   or_(_T.c.lease_until.is_(None), _T.c.lease_until < bindparam("now"))))
_HEADS_IN_LANES = _heads(in_lanes=True)
# (postgres, in lanes): PostgreSQL skips rows another replica is leasing right now
_HEADS_FOR = {(False, False): _HEADS, (False, True): _HEADS_IN_LANES,
              (True, False): _HEADS.with_for_update(skip_locked=True),
              (True, True): _HEADS_IN_LANES.with_for_update(skip_locked=True)}
_LEASE = (
    update(_T)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)),
           _T.c.state == _IS_PENDING,
           or_(_T.c.lease_until.is_(None), _T.c.lease_until < bindparam("now")))
    .values(lease_until=bindparam("until"), holder=bindparam("holder"),
            attempts=_T.c.attempts + 1)
    .returning(_T.c.id, _T.c.key, _T.c.lane, _T.c.action,
               _T.c.ticket_id, _T.c.body, _T.c.attempts, _T.c.created_at)
)


_ADD = upsert(OutboxRow, ("key", "lane", "ticket_id", "action", "body", "state", "attempts",
                         "next_at", "created_at"), conflict=("key",), returning=("id",))


@functools.cache
def _finishing(columns: frozenset[str]) -> Any:
    """The UPDATE that ends an attempt (sent, dead or retry), built once per set of columns:
    building it per message was a tenth of the delivery's CPU (issue 10)."""
    return (update(_T)
            .where(_T.c.id == bindparam("b_id"), _T.c.holder == bindparam("b_holder"),
                   _T.c.state == _IS_PENDING)
            .values(lease_until=None, holder=None, **{c: bindparam(c) for c in sorted(columns)})
            .returning(_T.c.id))


class SqlOutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        bind = session.bind
        self._postgres = bind is not None and bind.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    async def add(self, message: Outbound, now: datetime) -> bool:
        """Queue a message; False if its key was queued before (kept once)."""
        params = {"key": message.key, "lane": message.lane, "ticket_id": message.ticket_id,
                  "action": message.action.value, "body": message.body(),
                  "state": State.PENDING.value, "attempts": 0, "next_at": now, "created_at": now}
        return (await self._session.execute(_ADD, params)).first() is not None

    # --- bulk forms for the SLA check (issue 10): a statement per batch, not per ticket ------
    async def add_all(self, messages: Sequence[Outbound], now: datetime) -> set[str]:
        """Queue many messages, in this order, in one executemany (SQLAlchemy batches it into
        multi-row INSERTs); the keys that were new (a key queued before is kept once)."""
        if not messages:
            return set()
        table = OutboxRow.__table__
        stmt = (self._insert(table).on_conflict_do_nothing(index_elements=[table.c.key])
                .returning(table.c.key))
        rows = [{"key": m.key, "lane": m.lane, "ticket_id": m.ticket_id, "action": m.action.value,
                 "body": m.body(), "state": State.PENDING.value, "attempts": 0, "next_at": now,
                 "created_at": now} for m in messages]
        return set((await self._session.execute(stmt, rows)).scalars())

    async def waiting_lanes(self, lanes: Iterable[str], render: str, now: datetime) -> set[str]:
        """Those of `lanes` for which `has_waiting(lane, render, now)` holds."""
        wanted, found = sorted(set(lanes)), set()
        for lo in range(0, len(wanted), 500):
            params = {"lanes": wanted[lo : lo + 500], "now": now}
            found |= {lane for lane, body in await self._session.execute(_WAITING, params)
                      if (body or {}).get("render") == render}
        return found
    # --- end bulk forms ---

    async def has_waiting(self, lane: str, render: str, now: datetime) -> bool:
        """A pending, not yet started message of `lane` rendered by `render` (so a newer one
        would say the same: cards render the ticket as it is when they are sent)."""
        return bool(await self.waiting_lanes([lane], render, now))

    async def lease_heads(self, *, now: datetime, until: datetime, holder: str, limit: int,
                          lanes: Sequence[str] | None = None) -> list[Leased]:
        """Take the oldest pending message of up to `limit` lanes that is due and free."""
        stmt = _HEADS_FOR[self._postgres, lanes is not None]
        params: dict[str, Any] = {"now": now, "limit": limit}
        if lanes is not None:
            params["lanes"] = list(lanes)
        ids = list(await self._session.scalars(stmt, params))
        if not ids:
            return []
        taken = await self._session.execute(
            _LEASE, {"ids": ids, "now": now, "until": until, "holder": holder})
        leased = [
            Leased(id=row.id, attempts=row.attempts, created_at=row.created_at,
                   message=Outbound.from_body(key=row.key, lane=row.lane, action=row.action,
                                              ticket_id=row.ticket_id, body=row.body))
            for row in taken
        ]
        return sorted(leased, key=lambda m: m.id)

    async def produced(self, key: str) -> Produced | None | bool:
        """What message `key` made: Produced once sent, None while pending, False if it never
        will be (dead or unknown)."""
        row = (await self._session.execute(
            select(OutboxRow.state, OutboxRow.channel_id, OutboxRow.post_id)
            .where(OutboxRow.key == key))).first()
        if row is None or row.state == State.DEAD.value:
            return False
        if row.state != State.SENT.value:
            return None
        return Produced(row.channel_id or "", row.post_id or "")

    async def sent(self, message_id: int, holder: str, now: datetime, *, channel_id: str,
                   post_id: str) -> bool:
        """Mark delivered; False if the lease was lost meanwhile (another process took over)."""
        return await self._finish(message_id, holder, state=State.SENT.value, done_at=now,
                                  channel_id=channel_id or None, post_id=post_id or None,
                                  error=None)

    async def dead(self, message_id: int, holder: str, now: datetime, error: str) -> bool:
        return await self._finish(message_id, holder, state=State.DEAD.value, done_at=now,
                                  error=error[:2000])

    async def retry(self, message_id: int, holder: str, at: datetime, error: str) -> bool:
        return await self._finish(message_id, holder, next_at=at, error=error[:2000])

    async def _finish(self, message_id: int, holder: str, **values: Any) -> bool:
        params = {**values, "b_id": message_id, "b_holder": holder}
        result = await self._session.execute(_finishing(frozenset(values)), params)
        return result.first() is not None

    async def release_leases(self, holder: str | None = None) -> int:
        """Give leases back (graceful stop: this holder's; SQLite start-up: all, since a
        second process cannot be running)."""
        stmt = update(OutboxRow).where(OutboxRow.state == _IS_PENDING,
                                       OutboxRow.lease_until.is_not(None))
        if holder is not None:
            stmt = stmt.where(OutboxRow.holder == holder)
        result = await self._session.execute(stmt.values(lease_until=None, holder=None)
                                             .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def next_due(self) -> datetime | None:
        """When the earliest pending message is due (None: nothing pending)."""
        return await self._session.scalar(
            select(func.min(OutboxRow.next_at)).where(OutboxRow.state == _IS_PENDING))

    async def depth(self) -> int:
        """Messages not yet delivered (a metric: how far behind Mattermost we are)."""
        return int(await self._session.scalar(
            select(func.count()).select_from(OutboxRow)
            .where(OutboxRow.state == _IS_PENDING)) or 0)

    async def pending_for(self, ticket_ids: Iterable[int]) -> dict[int, int]:
        ids = list(ticket_ids)
        if not ids:
            return {}
        stmt = (select(OutboxRow.ticket_id, func.count())
                .where(OutboxRow.state == _IS_PENDING, OutboxRow.ticket_id.in_(ids))
                .group_by(OutboxRow.ticket_id))
        return {int(t): int(n) for t, n in await self._session.execute(stmt)}

    async def prune(self, before: datetime) -> int:
        """Forget messages delivered (or given up) before `before`."""
        result = await self._session.execute(
            delete(OutboxRow).where(OutboxRow.state != _IS_PENDING,
                                    and_(OutboxRow.done_at.is_not(None), OutboxRow.done_at < before))
            .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
