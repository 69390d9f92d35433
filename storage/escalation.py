"""Escalations to SET: the `escalations` table and its repository (flushes, never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import MM_ID, Base, BigId, JsonDoc, UtcDateTime
from workflows.escalation import AlreadyEscalated, Escalation, EscalationForm, Severity, Stage

_OPEN = "closed_at IS NULL"


class EscalationRow(Base):
    __tablename__ = "escalations"
    __table_args__ = (
        # one open escalation per ticket, enforced by the database as well as by the workflow
        Index("uq_escalations_open_ticket", "ticket_id", unique=True,
              sqlite_where=text(_OPEN), postgresql_where=text(_OPEN)),
        Index("ix_escalations_closed_at_stage", "closed_at", "stage"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    steps: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    tracker_link: Mapped[str | None] = mapped_column(Text)
    card_post_id: Mapped[str | None] = mapped_column(String(MM_ID))
    opened_by: Mapped[str] = mapped_column(String(MM_ID))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc)

    def update_from(self, e: Escalation) -> None:
        self.ticket_id = e.ticket_id
        self.stage = e.stage.value
        self.reason, self.steps, self.impact = e.form.reason, e.form.steps, e.form.impact
        self.severity = e.form.severity.value
        self.tracker_link = e.form.tracker_link
        self.card_post_id = e.card_post_id
        self.opened_by, self.opened_at = e.opened_by, e.opened_at
        self.updated_at, self.closed_at = e.updated_at, e.closed_at
        self.details = dict(e.details)

    def to_domain(self) -> Escalation:
        form = EscalationForm(self.reason, self.steps, self.impact, Severity(self.severity),
                              self.tracker_link)
        return Escalation(self.ticket_id, Stage(self.stage), form, opened_by=self.opened_by,
                          opened_at=self.opened_at, updated_at=self.updated_at,
                          card_post_id=self.card_post_id, closed_at=self.closed_at,
                          details=dict(self.details or {}), id=self.id)


class SqlEscalationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, escalation: Escalation) -> Escalation:
        """Insert a new escalation; a second open one for the ticket fails on the unique index."""
        if escalation.id is not None:
            raise ValueError("add() takes a new escalation; use save()")
        row = EscalationRow()
        row.update_from(escalation)
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError:  # uq_escalations_open_ticket: someone escalated it a moment ago
            raise AlreadyEscalated(
                f"#{escalation.ticket_id} was escalated a moment ago.") from None
        return replace(escalation, id=row.id)

    async def save(self, escalation: Escalation) -> None:
        if escalation.id is None:
            raise ValueError("save() needs a stored escalation; use add()")
        row = await self._session.get(EscalationRow, escalation.id)
        if row is None:
            raise LookupError(f"escalation {escalation.id} does not exist")
        row.update_from(escalation)
        await self._session.flush()

    async def get(self, escalation_id: int, *, for_update: bool = False) -> Escalation | None:
        """One escalation by id, open or closed (row-locked on PostgreSQL with for_update);
        outbox (issue 8): the SET card renders and records its own escalation at delivery."""
        stmt = select(EscalationRow).where(EscalationRow.id == escalation_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = await self._session.scalar(stmt.execution_options(populate_existing=True))
        return row.to_domain() if row else None

    async def open_for(self, ticket_id: int, *, for_update: bool = False) -> Escalation | None:
        """The ticket's open escalation (row-locked on PostgreSQL with for_update)."""
        stmt = select(EscalationRow).where(EscalationRow.ticket_id == ticket_id,
                                           EscalationRow.closed_at.is_(None))
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self._session.scalar(stmt)
        return row.to_domain() if row else None

    async def latest_for(self, ticket_id: int) -> Escalation | None:
        """The ticket's most recent escalation, open or closed."""
        stmt = (select(EscalationRow).where(EscalationRow.ticket_id == ticket_id)
                .order_by(EscalationRow.id.desc()).limit(1))
        row = await self._session.scalar(stmt)
        return row.to_domain() if row else None

    async def open_all(self, limit: int = 500) -> list[Escalation]:
        """Every open escalation, oldest first."""
        stmt = (select(EscalationRow).where(EscalationRow.closed_at.is_(None))
                .order_by(EscalationRow.opened_at, EscalationRow.id).limit(limit))
        return [row.to_domain() for row in await self._session.scalars(stmt)]

    async def open_for_tickets(self, ticket_ids: Sequence[int]) -> dict[int, Escalation]:
        """Open escalations of the given tickets, by ticket id (for queue rows)."""
        if not ticket_ids:
            return {}
        stmt = select(EscalationRow).where(EscalationRow.ticket_id.in_(list(ticket_ids)),
                                           EscalationRow.closed_at.is_(None))
        return {row.ticket_id: row.to_domain() for row in await self._session.scalars(stmt)}
