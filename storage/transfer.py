"""Bulk reads for export: tickets of a period in id order, a batch at a time, with their events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TicketEventRow, TicketRow
from workflows.model import Ticket, TicketEvent


class SqlTransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count_created_between(self, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).select_from(TicketRow).where(
            TicketRow.created_at >= start, TicketRow.created_at < end)
        return int(await self._session.scalar(stmt) or 0)

    async def created_between(
        self, start: datetime, end: datetime, *, after_id: int = 0, limit: int = 500
    ) -> list[Ticket]:
        """Tickets with start <= created_at < end and id > after_id, by id (keyset paging)."""
        stmt = (
            select(TicketRow)
            .where(TicketRow.created_at >= start, TicketRow.created_at < end,
                   TicketRow.id > after_id)
            .order_by(TicketRow.id)
            .limit(limit)
        )
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def events_for(self, ticket_ids: Sequence[int]) -> dict[int, list[TicketEvent]]:
        """Every event of the given tickets, oldest first, in one query."""
        out: dict[int, list[TicketEvent]] = {i: [] for i in ticket_ids}
        if not ticket_ids:
            return out
        stmt = (
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id.in_(list(ticket_ids)))
            .order_by(TicketEventRow.ticket_id, TicketEventRow.at, TicketEventRow.id)
        )
        for row in await self._session.scalars(stmt):
            out[row.ticket_id].append(row.to_domain())
        return out

    async def count_unannounced(self) -> int:
        """Tickets whose card or customer thread is not posted yet (the outbox depth)."""
        stmt = select(func.count()).select_from(TicketRow).where(
            (TicketRow.card_post_id.is_(None)) | (TicketRow.customer_root_id.is_(None)))
        return int(await self._session.scalar(stmt) or 0)
