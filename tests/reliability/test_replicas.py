"""Fault 4 of issue 8 (reliability): three bot replicas on one PostgreSQL, behind one public URL.

A simulated day: tickets (some Premium Urgent/High, so they page), customers writing, staff
replying and taking tickets, and every hour all three replicas running their scheduled jobs
at once. Mattermost's callbacks go through a round-robin proxy, so any replica may answer any of
them, and every replica's websocket sees every post. Each job slot must run on one replica only;
tickets, relays, pages and the summary must each happen once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.app import SupportBot, job_specs
from tests import dbutil
from tests.reliability.helpers import UNLIMITED
from tests.wire.harness import T0, Desk, free_port, seeded_desk
from tests.wire.workflow_helpers import (
    all_tickets, card, click, customer_thread, customer_writes, events, staff_thread, staff_writes,
)
from workflows.model import EventKind

pytestmark = pytest.mark.postgres

REPLICAS = 3
TICKETS = 40
STEP_MINUTES = 60
STEPS = 24  # Monday 10:00 to Tuesday 10:00, the summary's 09:00 slot on the way
PAGED = {0: "urgent", 6: "high", 13: "urgent", 20: "high", 26: "urgent", 33: "high"}
ONCALL: dict[str, Any] = {
    "check_interval": "1m", "ack_timeout": "10m", "repeat": 0, "lead": ["lee"],
    "regions": [{"name": "GLOBAL", "timezone": "UTC", "hours": "00:00-24:00",
                 "primary": ["sam"], "secondary": ["tess"]}],
}
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class RoundRobin:
    """The public URL: each request goes to the next replica, like a plain load balancer."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.statuses: Counter[int] = Counter()
        self.per_replica: Counter[int] = Counter()
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        replica, self._next = self._next % len(self.backends), self._next + 1
        self.per_replica[replica] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._session.request(request.method, self.backends[replica] + request.path_qs,
                                         headers=headers, data=await request.read()) as answer:
            body = await answer.read()
            self.statuses[answer.status] += 1
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=answer.status, body=body, headers=kept)


@dataclass
class ReplicaDesk(Desk):
    """A Desk whose `bot` is the first of several replicas sharing its database and clock."""

    bots: list[SupportBot] = field(default_factory=list)

    async def settle(self) -> None:
        for _ in range(3):
            for bot in self.bots:
                await bot.background.drain()
            await asyncio.sleep(0.01)

    async def run_jobs(self) -> dict[str, int]:
        done = await asyncio.gather(*(b.jobs.run_all() for b in self.bots if b.jobs))
        await self.settle()
        return dict(sum((Counter(d) for d in done), Counter()))


@pytest_asyncio.fixture
async def replicas() -> AsyncIterator[tuple[ReplicaDesk, RoundRobin]]:
    url = await dbutil.fresh_postgres_url()
    if url is None:
        pytest.skip(dbutil.skip_reason())
    seeded = await seeded_desk(url)
    desk = ReplicaDesk(**{f: getattr(seeded, f) for f in seeded.__dataclass_fields__})
    lee = desk.emu.create_user("lee", email="lee@vendor.test")
    desk.emu.add_team_member(desk.team, lee)
    desk.emu.add_member(desk.support, lee)
    desk.users["lee"] = lee
    ports = [free_port() for _ in range(REPLICAS)]
    proxy = RoundRobin([f"http://127.0.0.1:{p}" for p in ports])
    await proxy.start()
    try:
        for port in ports:  # a rolling start: see docs/reliability.md, "Replicas"
            bot = SupportBot(desk.settings(server={"port": port, "public_url": proxy.url},
                                           oncall=ONCALL, security=UNLIMITED), clock=desk.clock)
            bot.run_scheduler = False  # the test runs the jobs after moving the clock
            desk.bots.append(bot)
            await bot.start()
        desk.bot = desk.bots[0]  # reads through any replica see the same database
        await desk.settle()
        yield desk, proxy
    finally:
        for bot in desk.bots:
            await bot.stop()
        desk.bot = None
        await proxy.stop()
        await desk.emu.stop()
        await dbutil.drop_database(url)


def _ticket_plan(n: int) -> tuple[str, str]:
    """(customer, priority) of the n-th ticket: six Premium Urgent/High ones page."""
    if n in PAGED:
        return ("alice", "carol")[n % 2], PAGED[n]
    return ("dave", "gina", "carol", "alice")[n % 4], ("normal", "low")[n % 2]


async def _open(desk: ReplicaDesk, n: int) -> Any:
    user, priority = _ticket_plan(n)
    await desk.run(user, "/ticket new")
    form = {"cc": "", "subject": f"Day ticket {n}", "priority": priority, "category": "search",
            "description": f"Problem number {n}.", "environment": "production",
            "mattermost_version": "10.11.2", "mobile_version": "", "mobile_device": ""}
    answer = await desk.emu.submit_dialog(desk.user(user), form)
    assert answer.body in ({}, None), answer.body
    await desk.settle()
    [t] = [t for t in await all_tickets(desk) if t.form.subject == f"Day ticket {n}"]
    await desk.wait_for(lambda: _announced(desk, t.id))
    return await _reload(desk, t.id)


async def _reload(desk: ReplicaDesk, ticket_id: int) -> Any:
    return next(t for t in await all_tickets(desk) if t.id == ticket_id)


async def _announced(desk: ReplicaDesk, ticket_id: int) -> bool:
    t = await _reload(desk, ticket_id)
    return bool(t.card_post_id and t.customer_root_id)


def _page_dms(desk: ReplicaDesk) -> Counter[tuple[int, str]]:
    """(ticket, person) -> page DMs the bot sent them, plus (ticket, "channel") alerts."""
    sent: Counter[tuple[int, str]] = Counter()
    for user in ("sam", "tess", "lee"):
        for post in desk.emu.dm_posts(desk.user("supportbot"), desk.user(user)):
            if post["props"].get("supportdesk_role") == "page":
                sent[(int(post["props"]["supportdesk_ticket"]), user)] += 1
    for post in desk.emu.posts(desk.support.id):
        if post["props"].get("supportdesk_role") == "page_channel":
            sent[(int(post["props"]["supportdesk_ticket"]), "channel")] += 1
    return sent


async def _count_events(desk: ReplicaDesk, tickets: list[Any], kind: EventKind) -> int:
    return sum([sum(e.kind is kind for e in await events(desk, t.id)) for t in tickets])


def _duplicates(counts: Counter[Any]) -> int:
    return sum(n - 1 for n in counts.values() if n > 1)


async def test_4_three_replicas_share_a_day_of_traffic(
    replicas: tuple[ReplicaDesk, RoundRobin],
) -> None:
    desk, proxy = replicas
    opened: dict[int, Any] = {}  # n -> ticket
    written: list[tuple[Any, str]] = []
    for step in range(STEPS):
        for n in (2 * step, 2 * step + 1):
            if n < TICKETS:
                opened[n] = await _open(desk, n)
        for n in (2 * step - 2, 2 * step - 1):  # customers add a detail to yesterday's tickets
            if n in opened:
                t, user = opened[n], _ticket_plan(n)[0]
                text = f"More detail on ticket {t.id}"
                await customer_writes(desk, t, text, user=user)
                written.append((t, text))
        for n in (2 * step - 4, 2 * step - 3):  # staff answer an hour after opening
            if n in opened:
                await staff_writes(desk, opened[n], f"!reply Looking into #{opened[n].id} now.")
                if n % 3 == 0 and n not in PAGED:
                    await click(desk, "tess", card(desk, opened[n]), "Take it")
        desk.clock.advance(minutes=STEP_MINUTES)
        await desk.run_jobs()  # all replicas at once, at the same (fake) time

    tickets = await all_tickets(desk)
    relayed = Counter(f"{t.id}:{p['message']}" for t, text in written
                      for p in staff_thread(desk, t) if text in p["message"])
    recorded = await _count_events(desk, tickets, EventKind.CUSTOMER_MESSAGE)
    replies_seen = Counter(f"{t.id}:{p['message']}" for t in tickets
                           for p in customer_thread(desk, t) if "Looking into" in p["message"])
    pages = _page_dms(desk)
    paged_events = await _count_events(desk, tickets, EventKind.PAGED)
    standup = desk.emu.posts(desk.channels["support-standup"].id)
    daily = Counter(p["message"].splitlines()[0] for p in standup
                    if "Daily summary" in p["message"])
    jobs = [bot.jobs for bot in desk.bots if bot.jobs is not None]
    slots = Counter(run for j in jobs for run in j.recent)  # (job, slot) -> replicas that ran it
    skipped = sum(sum(j.skipped.values()) for j in jobs)
    ran_by = [len(j.recent) for j in jobs]
    callbacks = sum(proxy.statuses.values())
    paged_tickets = {tickets_id for tickets_id, _ in pages}
    print(f"\n[fault 4] replicas {REPLICAS}: tickets {len(tickets)}, callbacks answered "
          f"{proxy.statuses[200]}/{callbacks} (per replica {sorted(proxy.per_replica.values())}),"
          " "
          f"customer messages relayed {sum(relayed.values())}/{len(written)} (duplicates "
          f"{_duplicates(relayed)}), staff replies delivered {sum(replies_seen.values())} "
          f"(duplicates {_duplicates(replies_seen)}), pages sent {sum(pages.values())} for "
          f"{len(paged_tickets)} tickets (duplicates {_duplicates(pages)}), summaries "
          f"{sum(daily.values())} (duplicates {_duplicates(daily)}); job slots run "
          f"{len(slots)} (twice {_duplicates(slots)}), runs per replica {sorted(ran_by)}, "
          f"skipped as taken {skipped}")
    assert len(tickets) == TICKETS and all(t.card_post_id and t.customer_root_id for t in tickets)
    assert proxy.statuses[200] == callbacks and min(proxy.per_replica.values()) > 0
    assert sum(relayed.values()) == len(written) == recorded and _duplicates(relayed) == 0
    assert sum(replies_seen.values()) == TICKETS and _duplicates(replies_seen) == 0
    paged_ids = {opened[n].id for n in PAGED}
    assert paged_tickets == paged_ids and _duplicates(pages) == 0
    assert sum(pages.values()) == paged_events
    assert sum(daily.values()) == 1 and _duplicates(daily) == 0
    assert _duplicates(slots) == 0 and skipped > 0
    assert set(slots) == _expected_slots(desk)  # every slot of every job ran, on one replica


def _expected_slots(desk: ReplicaDesk) -> set[tuple[str, Any]]:
    """(job, slot) for each job at each step's time, and the interval jobs' first run at T0."""
    times = [T0 + timedelta(minutes=STEP_MINUTES * (k + 1)) for k in range(STEPS)]
    specs = job_specs(desk.bots[0].settings)
    return ({(s.name, s.slot(t)) for s in specs for t in times}
            | {(s.name, s.slot(T0)) for s in specs if not s.cron})
