"""Cluster-wide job leases (issue 8, replicas): one row per scheduled job, taken by one UPDATE.

`until` tells the state of the job's `last_slot`: NULL once its run finished, in the future
while `holder` runs it, in the past when the holder died mid-run (or the run failed); then
the next replica may run that slot again. The conditional UPDATE is a compare-and-set on both
SQLite (writers are serialised) and PostgreSQL (a concurrent UPDATE of the row waits, then
re-checks the WHERE against the committed row), so exactly one replica wins each slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime
from storage.upsert import upsert

# `until` of a run that failed: long past, so the slot is open again at any (fake) time.
EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


class JobLeaseRow(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), default="", server_default="")
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_slot: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class JobLease:
    name: str
    holder: str
    until: datetime | None
    last_slot: datetime | None


_ENSURE = upsert(JobLeaseRow, ("name", "holder", "until", "last_slot"), conflict=("name",))


class SqlLeaseRepository:
    """Take, renew and give back the lease of a job's slot. Flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take(self, name: str, slot: datetime, holder: str, now: datetime,
                   until: datetime, *, rerun: bool = False, solo: bool = False) -> bool:
        """True if `holder` may run `slot` of job `name` now (and holds it until `until`).

        Free (no run in progress) and the slot is newer than the last one run, or, with
        `rerun`, it is `holder`'s own finished slot (asked again in the same process); or the
        last run's lease expired (its holder died or failed) and the slot is that one or newer.
        `solo`: no other process can use this database (SQLite, bot/dblock.py), so every other
        holder is an earlier, dead incarnation: its lease counts as expired, its slots as ours.
        """
        await self._session.execute(
            _ENSURE, {"name": name, "holder": "", "until": None, "last_slot": None})
        row = JobLeaseRow
        newer = or_(row.last_slot.is_(None), row.last_slot < slot)
        mine = row.last_slot == slot if solo else and_(row.holder == holder,
                                                       row.last_slot == slot)
        expired = or_(row.until < now, row.holder != holder) if solo else row.until < now
        stmt = (
            update(row)
            .where(row.name == name, or_(
                and_(row.until.is_(None), or_(newer, mine) if rerun else newer),
                and_(row.until.is_not(None), expired, or_(newer, row.last_slot == slot)),
            ))
            .values(holder=holder, until=until, last_slot=slot)
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(stmt)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def renew(self, name: str, slot: datetime, holder: str, until: datetime) -> bool:
        """Extend a lease still held; False if it expired and another replica took it."""
        row = JobLeaseRow
        stmt = (update(row)
                .where(row.name == name, row.holder == holder, row.last_slot == slot,
                       row.until.is_not(None))
                .values(until=until).execution_options(synchronize_session=False))
        result = await self._session.execute(stmt)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self, name: str, slot: datetime, holder: str, *, finished: bool) -> None:
        """Mark the slot done (`finished`), or leave it open for the next run (a failure)."""
        row = JobLeaseRow
        await self._session.execute(
            update(row).where(row.name == name, row.holder == holder, row.last_slot == slot)
            .values(until=None if finished else EXPIRED)
            .execution_options(synchronize_session=False))

    async def get(self, name: str) -> JobLease | None:
        found = (await self._session.execute(
            select(JobLeaseRow).where(JobLeaseRow.name == name))).scalar_one_or_none()
        if found is None:
            return None
        return JobLease(found.name, found.holder, found.until, found.last_slot)
