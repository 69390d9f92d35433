"""Scheduled jobs on APScheduler's AsyncIOScheduler: a table of plain async jobs behind one guard."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[Any, datetime], Awaitable[int]]


class Jobs:
    """Runs each job every `interval`: one at a time, missed runs coalesced, failures logged."""

    def __init__(self, jobs: Sequence[tuple[str, Job]], deps: Any, interval: timedelta) -> None:
        self._jobs = list(jobs)
        self._deps = deps
        self._interval = interval
        self._scheduler: AsyncIOScheduler | None = None
        self.runs: dict[str, int] = {}
        self.failures: dict[str, int] = {}

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for name, job in self._jobs:
            self._scheduler.add_job(
                self.run_one, IntervalTrigger(seconds=self._interval.total_seconds()),
                args=(name, job), id=name, coalesce=True, max_instances=1,
                misfire_grace_time=int(self._interval.total_seconds()) or 1,
            )
        self._scheduler.start()

    async def run_one(self, name: str, job: Job) -> int:
        try:
            done = await job(self._deps, self._deps.clock())
        except Exception:
            self.failures[name] = self.failures.get(name, 0) + 1
            log.exception("scheduled job %s failed", name)
            return 0
        self.runs[name] = self.runs.get(name, 0) + 1
        if done:
            log.info("scheduled job %s: %s item(s)", name, done)
        return done

    async def run_all(self) -> dict[str, int]:
        """Run every job once now (tests with an injected clock; the first run after start)."""
        return {name: await self.run_one(name, job) for name, job in self._jobs}

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
