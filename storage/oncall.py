"""On-call storage: rota overrides and the pages sent, one row per (ticket, round, level).

The unique key on oncall_pages is the paging dedup: a page is claimed by inserting its row
before anything is sent, so a restart, two overlapping checks or two replicas page once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import MM_ID, Base, TicketEventRow, TicketRow, UtcDateTime
from storage.upsert import upsert
from workflows.model import EventKind, Plan, Priority, Status, Ticket
from workflows.oncall import PageFacts, PageRecord, StoredOverride


class OncallOverrideRow(Base):
    """`username` holds `level` (in `region`, or any) in [from_at, to_at), instead of the rota."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (
        Index("ix_oncall_overrides_to_at", "to_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(MM_ID))
    username: Mapped[str] = mapped_column(String(64))  # the rota names people by username
    from_at: Mapped[datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[datetime] = mapped_column(UtcDateTime)
    level: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(MM_ID))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def to_domain(self) -> StoredOverride:
        return StoredOverride(
            id=self.id, user_id=self.user_id, username=self.username, from_at=self.from_at,
            to_at=self.to_at, level=self.level, region=self.region, created_by=self.created_by,
        )


OPEN_PAGES = "resolved_at IS NULL"


class OncallPageRow(Base):
    """One page sent (or being sent): its row is the claim that makes it happen once."""

    __tablename__ = "oncall_pages"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "level"),
        # The check reads only pages whose episode is not resolved yet.
        Index("ix_oncall_pages_open", "ticket_id",
              postgresql_where=text(OPEN_PAGES), sqlite_where=text(OPEN_PAGES)),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))  # primary, secondary, lead or channel
    username: Mapped[str | None] = mapped_column(String(64))  # None: the channel alert
    paged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(MM_ID))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def to_domain(self) -> PageRecord:
        return PageRecord(
            ticket_id=self.ticket_id, round=self.round, level=self.level,
            username=self.username, paged_at=self.paged_at,
            acknowledged_at=self.acknowledged_at, acknowledged_by=self.acknowledged_by,
            resolved_at=self.resolved_at,
        )


FINISHED = (Status.SOLVED.value, Status.CLOSED.value)


_CLAIM_PAGE = upsert(OncallPageRow, ("ticket_id", "round", "level", "username", "paged_at"),
                     conflict=("ticket_id", "round", "level"), returning=("id",))


class SqlOncallRepository:
    """Overrides, pages and the few ticket facts paging needs. Flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- overrides --------------------------------------------------------------------------

    async def add_override(self, override: StoredOverride, *, created_at: datetime) -> int:
        row = OncallOverrideRow(
            user_id=override.user_id, username=override.username, from_at=override.from_at,
            to_at=override.to_at, level=override.level, region=override.region,
            created_by=override.created_by, created_at=created_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def overrides(self, ending_after: datetime) -> list[StoredOverride]:
        """Overrides still running or to come, oldest first (a later one wins on overlap)."""
        stmt = (select(OncallOverrideRow).where(OncallOverrideRow.to_at > ending_after)
                .order_by(OncallOverrideRow.id))
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def remove_override(self, override_id: int) -> StoredOverride | None:
        row = await self._session.get(OncallOverrideRow, override_id)
        if row is None:
            return None
        await self._session.delete(row)
        await self._session.flush()
        return row.to_domain()

    # -- tickets that may need a page ---------------------------------------------------------

    async def pageable_tickets(
        self, pageable: Collection[tuple[Plan, Priority]], limit: int = 500
    ) -> list[Ticket]:
        """Unfinished tickets of the pageable plan/priority pairs.

        Served by ix_tickets_status_priority_created_at; never a scan of history.
        """
        plans = sorted({plan.value for plan, _ in pageable})
        priorities = sorted({priority.value for _, priority in pageable})
        if not plans:
            return []
        stmt = (
            select(TicketRow)
            .where(TicketRow.status.not_in(FINISHED), TicketRow.priority.in_(priorities),
                   TicketRow.plan.in_(plans))
            .order_by(TicketRow.created_at, TicketRow.id)
            .limit(limit)
        )
        pairs = {(plan.value, priority.value) for plan, priority in pageable}
        rows = await self._session.scalars(stmt)
        return [row.to_domain() for row in rows if (row.plan, row.priority) in pairs]

    async def page_facts(self, ticket_ids: Sequence[int]) -> dict[int, PageFacts]:
        """Reply, message and acknowledgement times per ticket, in one grouped query."""
        if not ticket_ids:
            return {}
        kinds = (EventKind.PUBLIC_REPLY.value, EventKind.CUSTOMER_MESSAGE.value,
                 EventKind.PAGE_ACKNOWLEDGED.value)
        stmt = (
            select(TicketEventRow.ticket_id, TicketEventRow.kind,
                   func.min(TicketEventRow.at), func.max(TicketEventRow.at))
            .where(TicketEventRow.ticket_id.in_(list(ticket_ids)), TicketEventRow.kind.in_(kinds))
            .group_by(TicketEventRow.ticket_id, TicketEventRow.kind)
        )
        found: dict[int, dict[str, tuple[datetime, datetime]]] = {}
        for ticket_id, kind, first, last in await self._session.execute(stmt):
            found.setdefault(ticket_id, {})[kind] = (_aware(first), _aware(last))
        facts = {}
        for ticket_id in ticket_ids:
            times = found.get(ticket_id, {})
            replies = times.get(EventKind.PUBLIC_REPLY.value)
            message = times.get(EventKind.CUSTOMER_MESSAGE.value)
            ack = times.get(EventKind.PAGE_ACKNOWLEDGED.value)
            facts[ticket_id] = PageFacts(
                first_public_reply_at=replies[0] if replies else None,
                last_public_reply_at=replies[1] if replies else None,
                last_customer_message_at=message[1] if message else None,
                acknowledged_at=ack[1] if ack else None,
            )
        return facts

    # -- pages --------------------------------------------------------------------------------

    async def pages_for(self, ticket_ids: Sequence[int]) -> dict[int, list[PageRecord]]:
        if not ticket_ids:
            return {}
        stmt = (select(OncallPageRow).where(OncallPageRow.ticket_id.in_(list(ticket_ids)))
                .order_by(OncallPageRow.paged_at, OncallPageRow.id))
        pages: dict[int, list[PageRecord]] = {}
        for row in await self._session.scalars(stmt):
            pages.setdefault(row.ticket_id, []).append(row.to_domain())
        return pages

    async def claim_page(self, ticket_id: int, round_: int, level: str, username: str | None,
                         at: datetime) -> bool:
        """True if this call created the page's row; False if it exists (someone paged)."""
        params = {"ticket_id": ticket_id, "round": round_, "level": level, "username": username,
                  "paged_at": at}
        return (await self._session.execute(_CLAIM_PAGE, params)).first() is not None

    async def release_page(self, ticket_id: int, round_: int, level: str) -> None:
        """Give a claim back: nothing went out, so the next check may try again."""
        await self._session.execute(delete(OncallPageRow).where(
            OncallPageRow.ticket_id == ticket_id, OncallPageRow.round == round_,
            OncallPageRow.level == level))

    async def open_pages(self, ticket_id: int) -> list[PageRecord]:
        stmt = (select(OncallPageRow)
                .where(OncallPageRow.ticket_id == ticket_id, OncallPageRow.resolved_at.is_(None))
                .order_by(OncallPageRow.paged_at, OncallPageRow.id))
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def tickets_with_open_pages(self, limit: int = 500) -> list[int]:
        stmt = (select(OncallPageRow.ticket_id).where(OncallPageRow.resolved_at.is_(None))
                .distinct().order_by(OncallPageRow.ticket_id).limit(limit))
        return list(await self._session.scalars(stmt))

    async def acknowledge(self, ticket_id: int, user_id: str, at: datetime) -> int:
        """Mark the ticket's open, unacknowledged pages; the row count tells who was first."""
        stmt = (
            update(OncallPageRow)
            .where(OncallPageRow.ticket_id == ticket_id, OncallPageRow.resolved_at.is_(None),
                   OncallPageRow.acknowledged_at.is_(None))
            .values(acknowledged_at=at, acknowledged_by=user_id)
            .execution_options(synchronize_session=False)
        )
        return (await self._session.execute(stmt)).rowcount or 0

    async def resolve(self, ticket_id: int, at: datetime) -> int:
        """Close the ticket's open pages; 0 means another check resolved them first."""
        stmt = (
            update(OncallPageRow)
            .where(OncallPageRow.ticket_id == ticket_id, OncallPageRow.resolved_at.is_(None))
            .values(resolved_at=at)
            .execution_options(synchronize_session=False)
        )
        return (await self._session.execute(stmt)).rowcount or 0


def _aware(value: datetime) -> datetime:
    """Aggregates bypass UtcDateTime's result processing on SQLite (text comes back)."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
