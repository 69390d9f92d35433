"""Scheduled jobs on APScheduler's AsyncIOScheduler: a table of plain async jobs behind one guard."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from commands import logcontext  # observability (issue 11): a request id per job run

log = logging.getLogger(__name__)

Job = Callable[[Any, datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job and when it runs: every `every`, or on a cron schedule (`cron` = CronTrigger kwargs)."""

    name: str
    run: Job
    every: timedelta | None = None
    cron: dict[str, Any] = field(default_factory=dict)
    grace: timedelta = timedelta(minutes=1)  # a run missed by less than this still happens

    def trigger(self) -> Any:
        if self.cron:
            return CronTrigger(**self.cron)
        assert self.every is not None, f"job {self.name} has no schedule"
        return IntervalTrigger(seconds=max(1, int(self.every.total_seconds())))


class Jobs:
    """Runs each job on its schedule: one at a time, missed runs coalesced, failures logged."""

    def __init__(self, specs: Sequence[JobSpec], deps: Any) -> None:
        self._specs = list(specs)
        self._deps = deps
        self._scheduler: AsyncIOScheduler | None = None
        self.runs: dict[str, int] = {}
        self.failures: dict[str, int] = {}

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for spec in self._specs:
            self._scheduler.add_job(
                self.run_one, spec.trigger(), args=(spec,), id=spec.name, coalesce=True,
                max_instances=1, misfire_grace_time=max(1, int(spec.grace.total_seconds())),
            )
        self._scheduler.start()

    async def run_one(self, spec: JobSpec) -> int:
        with logcontext.serving(logcontext.new_request_id(f"job-{spec.name}-")):  # issue 11
            try:
                done = await spec.run(self._deps, self._deps.clock())
            except Exception:
                self.failures[spec.name] = self.failures.get(spec.name, 0) + 1
                log.exception("scheduled job %s failed", spec.name)
                return 0
            self.runs[spec.name] = self.runs.get(spec.name, 0) + 1
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
