"""Scheduled jobs on APScheduler's AsyncIOScheduler: a table of plain async jobs behind one guard.

Replicas (issue 8): before it runs, a job takes its lease for the current *slot* in the database
(storage/leases.py), so several bot processes on one PostgreSQL run each slot once, cluster-wide.
A slot is the cron fire time (the latest one not after now), or the interval window that holds
now; windows are aligned to the epoch, so every replica computes the same slots and its
interval triggers fire at their starts. Slots come from the injected clock (`deps.clock()`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from commands import logcontext  # observability (issue 11): a request id per job run

log = logging.getLogger(__name__)

Job = Callable[[Any, datetime], Awaitable[int]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # interval windows start at multiples of `every` from it
# How far back to look for a cron job's latest fire time, widest last (a weekly cron needs 8 d).
CRON_LOOKBACK = (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), timedelta(days=8),
                 timedelta(days=32), timedelta(days=366))


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job and when it runs: every `every`, or on a cron schedule (`cron` = CronTrigger kwargs)."""

    name: str
    run: Job
    every: timedelta | None = None
    cron: dict[str, Any] = field(default_factory=dict)
    grace: timedelta = timedelta(minutes=1)  # a run missed by less than this still happens
    # replicas (issue 8): a running job renews its lease every third of this; a replica that
    # dies mid-run blocks the job for at most this long, then the next replica takes over.
    lease: timedelta = timedelta(seconds=90)

    def trigger(self) -> Any:
        if self.cron:
            return CronTrigger(**{"timezone": "UTC", **self.cron})
        # Aligned to the epoch: every replica fires at the start of the same windows (issue 8).
        return IntervalTrigger(seconds=self._seconds(), start_date=EPOCH)

    @property
    def rerun(self) -> bool:
        """May this process run a slot again that it ran itself? Interval jobs are sweeps of
        whatever is due, so a manual run in the same window (or a test that moved the clock by
        less than `every`) does run; a cron job is one event per fire time, so it does not."""
        return not self.cron

    def _seconds(self) -> int:
        assert self.every is not None, f"job {self.name} has no schedule"
        return max(1, int(self.every.total_seconds()))

    def slot(self, now: datetime) -> datetime:
        """The slot a run at `now` belongs to: the latest cron fire time, or the window start."""
        if self.cron:
            return latest_fire(self.trigger(), now) or now
        step = timedelta(seconds=self._seconds())
        return EPOCH + (now - EPOCH) // step * step


def latest_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time `trigger` fired at or before `now` (None if not within a year)."""
    for back in CRON_LOOKBACK:
        fire = trigger.get_next_fire_time(None, now - back)
        if fire is None or fire > now:
            continue
        while (later := trigger.get_next_fire_time(None, fire + timedelta(seconds=1))) and \
                later <= now:
            fire = later
        return fire.astimezone(UTC)
    return None


def holder_identity() -> str:
    """Who holds a lease: host, process and a random part (several bots may share a process)."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{secrets.token_hex(4)}"


class Jobs:
    """Runs each job on its schedule: one slot once cluster-wide, coalesced, failures logged."""

    def __init__(self, specs: Sequence[JobSpec], deps: Any, *, holder: str | None = None,
                 solo: bool = False) -> None:
        self._specs = list(specs)
        self._deps = deps
        self._scheduler: AsyncIOScheduler | None = None
        self.runs: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        # --- replicas (issue 8) ---
        self.holder = holder or holder_identity()
        self.solo = solo  # the only process on its database (SQLite): see SqlLeaseRepository
        self.skipped: dict[str, int] = {}  # slots another replica ran, or is running
        self.recent: deque[tuple[str, datetime]] = deque(maxlen=1000)  # (job, slot) run here

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for spec in self._specs:
            self._scheduler.add_job(
                self.run_one, spec.trigger(), args=(spec,), id=spec.name, coalesce=True,
                max_instances=1, misfire_grace_time=max(1, int(spec.grace.total_seconds())),
            )
        self._scheduler.start()

    async def run_one(self, spec: JobSpec) -> int:
        """Run the job for the current slot, unless another run (here or elsewhere) has it."""
        with logcontext.serving(logcontext.new_request_id(f"job-{spec.name}-")):  # issue 11
            now = self._deps.clock()
            slot = spec.slot(now)
            if not await self._take(spec, slot, now):
                return 0
            finished = False
            keeper = asyncio.create_task(self._keep(spec, slot), name=f"lease-{spec.name}")
            try:
                done = await spec.run(self._deps, now)
                finished = True
            except Exception:
                self.failures[spec.name] = self.failures.get(spec.name, 0) + 1
                log.exception("scheduled job %s failed", spec.name)
                return 0
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                await self._release(spec, slot, finished=finished)
            self.runs[spec.name] = self.runs.get(spec.name, 0) + 1
            self.recent.append((spec.name, slot))
            if done:
                log.info("scheduled job %s: %s item(s)", spec.name, done)
            return done

    async def run_all(self, *, interval_only: bool = False) -> dict[str, int]:
        """Run every job once now (tests with an injected clock; the first run after start)."""
        return {spec.name: await self.run_one(spec) for spec in self._specs
                if not (interval_only and spec.cron)}

    async def run(self, name: str) -> int:
        """Run one job by name now."""
        return await self.run_one(next(s for s in self._specs if s.name == name))

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # --- replicas (issue 8): the lease of a job's slot ---
    async def _take(self, spec: JobSpec, slot: datetime, now: datetime) -> bool:
        try:
            async with self._deps.uow() as uow:
                taken = bool(await uow.leases.take(spec.name, slot, self.holder, now,
                                                   now + spec.lease, rerun=spec.rerun,
                                                   solo=self.solo))
                await uow.commit()
        except Exception:  # no database, no lease: the next slot tries again
            self.failures[spec.name] = self.failures.get(spec.name, 0) + 1
            log.exception("scheduled job %s: cannot take its lease", spec.name)
            return False
        if not taken:
            self.skipped[spec.name] = self.skipped.get(spec.name, 0) + 1
            log.debug("scheduled job %s: slot %s taken by another run", spec.name, slot)
        return taken

    async def _keep(self, spec: JobSpec, slot: datetime) -> None:
        """Renew the lease while the job runs, so a long run is not taken over as dead."""
        while True:
            await asyncio.sleep(max(1.0, spec.lease.total_seconds() / 3))
            try:
                async with self._deps.uow() as uow:
                    kept = await uow.leases.renew(spec.name, slot, self.holder,
                                                  self._deps.clock() + spec.lease)
                    await uow.commit()
            except Exception as exc:  # the next renewal tries again; the lease may lapse
                log.warning("scheduled job %s: lease renewal failed: %s", spec.name, exc)
                continue
            if not kept:
                log.warning("scheduled job %s: lease for slot %s lapsed and was taken over; "
                            "another replica may now run it too", spec.name, slot)
                return

    async def _release(self, spec: JobSpec, slot: datetime, *, finished: bool) -> None:
        try:
            async with self._deps.uow() as uow:
                await uow.leases.release(spec.name, slot, self.holder, finished=finished)
                await uow.commit()
        except Exception:  # the lease lapses by itself at `until`
            log.exception("scheduled job %s: cannot release its lease", spec.name)
