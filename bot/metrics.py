"""Prometheus metrics on the bot's own registry, exposed at /metrics by the same aiohttp app.

Counters for things that happen in this process (intake, SLA breaches, pages, callbacks); gauges
read from the database (tickets by status, outbox depth) at most every REFRESH, so a scrape
storm never becomes a query storm. Behind several replicas, sum the counters across them; the
gauges are cluster-wide already (every replica reports the same database).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from commands import metrics as hooks
from workflows.model import Status

log = logging.getLogger(__name__)

REFRESH = timedelta(seconds=15)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # Mattermost waits 3 s


class _LiveCollector(Collector):
    """Values the bot already counts: websocket reconnects, scheduler runs and failures."""

    def __init__(self, bot: Any) -> None:
        self._bot = bot

    def collect(self) -> Iterator[Any]:
        ws = getattr(self._bot, "websocket", None)
        reconnects = CounterMetricFamily("supportbot_websocket_reconnects",
                                         "Mattermost websocket reconnections since start")
        reconnects.add_metric([], float(getattr(ws, "reconnects", 0) or 0))
        yield reconnects
        events = CounterMetricFamily("supportbot_websocket_events",
                                     "Posts by people received on the websocket and handled")
        events.add_metric([], float(getattr(self._bot, "events_handled", 0) or 0))
        yield events
        connected = GaugeMetricFamily("supportbot_websocket_connected",
                                      "1 while the Mattermost websocket is connected")
        connected.add_metric([], 1.0 if ws is not None and ws.is_connected else 0.0)
        yield connected
        jobs = getattr(self._bot, "jobs", None)
        runs = CounterMetricFamily("supportbot_job_runs", "Scheduled job runs that finished",
                                   labels=["job"])
        failures = CounterMetricFamily("supportbot_job_failures", "Scheduled job runs that raised",
                                       labels=["job"])
        for name, count in sorted((getattr(jobs, "runs", None) or {}).items()):
            runs.add_metric([name], float(count))
        for name, count in sorted((getattr(jobs, "failures", None) or {}).items()):
            failures.add_metric([name], float(count))
        yield runs
        yield failures


class BotMetrics:
    def __init__(self, bot: Any, *, refresh: timedelta = REFRESH) -> None:
        self._bot = bot
        self._refresh = refresh
        self._refreshed_at: datetime | None = None
        self.registry = r = CollectorRegistry()
        self.tickets = Gauge("supportbot_tickets", "Tickets by status", ["status"], registry=r)
        self.outbox = Gauge("supportbot_outbox_depth",
                            "Messages queued for Mattermost and not yet delivered (the outbox)",
                            registry=r)
        self.opened = Counter("supportbot_tickets_opened", "Tickets opened through intake",
                              registry=r)
        self.sla_breaches = Counter("supportbot_sla_breaches", "SLA breaches recorded", registry=r)
        self.pages = Counter("supportbot_pages", "On-call pages sent", registry=r)
        self.latency = Histogram("supportbot_callback_seconds",
                                 "Time to answer a Mattermost callback, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        r.register(_LiveCollector(bot))

    def bind_hooks(self) -> None:
        hooks.bind(ticket_opened=self.opened.inc, sla_breached=self.sla_breaches.inc,
                   paged=self.pages.inc)

    def observe_callback(self, route: str, seconds: float) -> None:
        self.latency.labels(route=route).observe(seconds)

    async def refresh(self, now: datetime) -> None:
        """Re-read the database gauges unless they were read less than REFRESH ago."""
        deps = getattr(self._bot, "deps", None)
        if deps is None or (self._refreshed_at is not None
                            and abs(now - self._refreshed_at) < self._refresh):
            return
        try:
            async with deps.uow() as uow:
                counts = await uow.tickets.count_by_status()
                outbox = await uow.outbox.depth()  # reliability (issue 8)
        except Exception as exc:  # a scrape reports what it has; /readyz tells about the DB
            log.warning("metrics: database gauges not refreshed: %s", exc)
            return
        for status in Status:
            self.tickets.labels(status=status.value).set(counts.get(status, 0))
        self.outbox.set(outbox)
        self._refreshed_at = now

    async def handle(self, request: web.Request) -> web.Response:
        await self.refresh(self._bot.clock())
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
