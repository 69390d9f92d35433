"""The unit of work: one session, the repositories on it, and the only place that commits."""

from __future__ import annotations

from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.gate import Gate, gate_for
from storage.repositories import (
    SqlClaimRepository,
    SqlCustomerRepository,
    SqlEventRepository,
    SqlTicketRepository,
)
from storage.sla import SqlSlaRepository  # SLA (issue 4)
from storage.oncall import SqlOncallRepository  # on-call (issue 5)
from storage.summary import SqlSummaryRepository  # summary (issue 7)
from storage.sla_outcomes import SqlSlaOutcomeRepository  # summary perf (issue 10)
from storage.transfer import SqlTransferRepository  # export/import (issue 11)
from storage.escalation import SqlEscalationRepository  # escalation (issue 6)
from storage.outbox import SqlOutboxRepository  # reliability (issue 8)
from storage.leases import SqlLeaseRepository  # replicas (issue 8): job leases


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(sessions) as uow: ...; await uow.commit()`.

    Leaving the block rolls back whatever was not committed and closes the session. A unit of
    work is single-use per `async with`; make a new one (or re-enter) for the next piece of work.
    """

    tickets: SqlTicketRepository
    events: SqlEventRepository
    customers: SqlCustomerRepository
    claims: SqlClaimRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._gate: Gate | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session, for queries no repository offers yet (use sparingly)."""
        if self._session is None:
            raise RuntimeError("SqlUnitOfWork used outside `async with`")
        return self._session

    # --- SLA (issue 4) ---
    @property
    def sla(self) -> SqlSlaRepository:
        """Bulk reads for the SLA check and /ticket stats (storage/sla.py)."""
        return SqlSlaRepository(self.session)
    # --- end SLA ---

    # --- on-call (issue 5) ---
    @property
    def oncall(self) -> SqlOncallRepository:
        """Overrides, pages and paging facts (storage/oncall.py)."""
        return SqlOncallRepository(self.session)
    # --- end on-call ---

    # --- summary (issue 7) ---
    @property
    def summary(self) -> SqlSummaryRepository:
        """Read-only, history-flat queries for the daily summary (storage/summary.py)."""
        return SqlSummaryRepository(self.session)
    # --- end summary ---

    # --- summary perf (issue 10) ---
    @property
    def sla_outcomes(self) -> SqlSlaOutcomeRepository:
        """Stored reply waits, for the summary's period metrics (storage/sla_outcomes.py)."""
        return SqlSlaOutcomeRepository(self.session)
    # --- end summary perf ---

    # --- export/import and metrics (issue 11) ---
    @property
    def transfer(self) -> SqlTransferRepository:
        """Bulk reads for `supportbot export` and the outbox-depth metric (storage/transfer.py)."""
        return SqlTransferRepository(self.session)
    # --- end export/import ---

    # --- escalation (issue 6) ---
    @property
    def escalations(self) -> SqlEscalationRepository:
        """Escalations to SET, one open per ticket (storage/escalation.py)."""
        return SqlEscalationRepository(self.session)
    # --- end escalation ---

    # --- reliability (issue 8) ---
    @property
    def outbox(self) -> SqlOutboxRepository:
        """Outbound messages queued with the change that caused them (storage/outbox.py)."""
        return SqlOutboxRepository(self.session)
    # --- end reliability ---

    # --- replicas (issue 8) ---
    @property
    def leases(self) -> SqlLeaseRepository:
        """Cluster-wide leases of scheduled jobs' slots (storage/leases.py, bot/scheduling.py)."""
        return SqlLeaseRepository(self.session)
    # --- end replicas ---

    async def __aenter__(self) -> Self:
        # issue 10: a connection slot in arrival order (storage/gate.py), then the session
        self._gate = gate_for(self._sessions.kw.get("bind"))
        if self._gate is not None:
            await self._gate.enter()
        session = self._sessions()
        self._session = session
        self.tickets = SqlTicketRepository(session)
        self.events = SqlEventRepository(session)
        self.customers = SqlCustomerRepository(session)
        self.claims = SqlClaimRepository(session)
        return self

    async def __aexit__(self, *exc: object) -> None:
        session, self._session = self.session, None
        try:
            await session.rollback()  # a no-op after commit(); undoes anything left over
        finally:
            try:
                await session.close()
            finally:
                if self._gate is not None:
                    self._gate.leave()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
