"""Benchmark: the scheduled SLA check's cost at 10k / 100k / 1M stored tickets (prints figures).

Not a test. Seeds a fresh, migrated database per size with bulk inserts: 70% closed tickets
(no deadline), 20% open with no running clock, 10% open with a future deadline, of which a fixed
DUE (100) are due. Then times, median of --runs runs:
  read+eval  the check's read path: `tickets.due(now)`, their logs and zones in bulk, evaluate,
             owed notices and the next watch instant (what grows with data, if anything does);
  check      the real `check_sla` job: a light read of the due tickets with their stored zones
             (one query), one user lookup (stub gateway), then one transaction that locks the due
             tickets, reads their logs, queues each notice and card refresh in the outbox, logs
             the events and stores the next deadlines; the database reset between runs;
  delivery   what the check leaves to the outbox, timed apart: the background flush it started
             (`deps.background.drain()`: each notice posted and each card edited, stub gateway);
the check with DUE tickets due, and with none due.

    .venv/bin/python -m benchmarks.sla_sweep                     # 10k and 100k, SQLite (+PG)
    .venv/bin/python -m benchmarks.sla_sweep --sizes 1000000     # 1M (~2 min to seed each)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, text, update

from commands.deps import Background, Deps, Desk
from commands.signing import Signer, derive_key
from commands.sla.check import check_sla
from commands.sla.service import ZONE_KIND, SlaDesk
from storage import db
from storage.migrate import upgrade
from storage.models import ClaimRow, TicketEventRow, TicketRow
from storage.outbox import OutboxRow
from storage.uow import SqlUnitOfWork
from tests import dbutil
from workflows import sla_watch
from workflows.calendar import BusinessCalendar
from workflows.sla import DEFAULT_POLICY

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday noon
DUE = 100
CHUNK = 10_000
PRIORITIES = ("urgent", "high", "normal", "low")


def _ticket(i: int, kind: str) -> dict[str, Any]:
    """One row; `kind` is closed, open (no clock), future (deadline later) or due."""
    created = NOW - timedelta(days=30) + timedelta(seconds=i % 2_500_000) if kind == "closed" \
        else NOW - timedelta(minutes=90 + i % 600)
    deadline = {"closed": None, "open": None,
                "future": NOW + timedelta(hours=1 + i % 500),
                "due": NOW - timedelta(minutes=1 + i % 60)}[kind]
    return {
        "id": i, "form": "technical", "subject": f"Ticket {i}", "description": "Bench ticket",
        "category": "general", "priority": PRIORITIES[i % 4] if kind != "due" else "urgent",
        "environment": "production", "mattermost_version": "10.11.2", "mobile_version": None,
        "mobile_device": None, "cc_user_ids": [], "requester_id": f"u{i % 5000:025d}",
        "requester_username": f"user{i % 5000}", "organisation": "Acme", "plan": "premium",
        "status": "closed" if kind == "closed" else "open", "assignee_id": f"a{i % 20:025d}",
        "hold": False, "card_post_id": f"c{i:025d}", "customer_channel_id": f"d{i % 5000:025d}",
        "customer_root_id": f"r{i:025d}", "next_deadline_at": deadline, "follow_up_of": None,
        "created_at": created, "updated_at": created,
    }


def _migration_0008() -> Any:
    """The summary-performance migration's module (its count triggers and how it fills them),
    loaded by path as benchmarks/summary_build.py does (importing that one loads matplotlib)."""
    path = Path(__file__).resolve().parents[1] / "storage/migrations/versions/0008_summary_perf.py"
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _layout(n: int) -> list[str]:
    """Kinds by id: the due ones spread through the table, not bunched at the end."""
    kinds = ["closed"] * int(n * 0.7) + ["open"] * int(n * 0.2)
    kinds += ["future"] * (n - len(kinds))
    step = max(1, n // DUE)
    for j in range(DUE):
        kinds[min(n - 1, j * step + step // 2)] = "due"
    return kinds


async def seed(url: str, n: int) -> float:
    """Bulk-insert n tickets (+ an OPENED event and a zone for every open one); seconds taken.

    On PostgreSQL the summary's count triggers (migration 0008) are off while loading and the
    counts filled in one pass after, as benchmarks/summary_build.py does: one transaction updating
    a count row a million times makes PostgreSQL walk ever longer row-version chains (the 1M seed
    did not finish in an hour)."""
    started = time.perf_counter()
    engine = db.create_engine(url)
    kinds = _layout(n)
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        if postgres:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for lo in range(0, n, CHUNK):
            rows = [_ticket(i + 1, kinds[i]) for i in range(lo, min(n, lo + CHUNK))]
            await conn.execute(insert(TicketRow.__table__), rows)
            opened = [{"ticket_id": r["id"], "kind": "opened", "at": r["created_at"],
                       "actor_id": r["requester_id"], "from_value": None, "to_value": "new",
                       "data": {}} for r in rows if r["status"] == "open"]
            zones = [{"kind": ZONE_KIND, "key": str(r["id"]), "value": "UTC", "created_at": NOW}
                     for r in rows if r["status"] == "open"]
            if opened:
                await conn.execute(insert(TicketEventRow.__table__), opened)
                await conn.execute(insert(ClaimRow.__table__), zones)
        if postgres:
            await conn.execute(text("SET LOCAL session_replication_role = DEFAULT"))
            for statement in _migration_0008().fill_counts(True):
                await conn.execute(text(statement))
            await conn.execute(text("SELECT setval('tickets_id_seq', :n)"), {"n": n})
    if postgres:
        async with engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - started


class StubGateway:
    """Accepts the calls the check and the outbox delivery make; no network."""

    def __init__(self) -> None:
        self.posts = self.edits = 0

    async def create_post(self, channel_id: str, message: str, **_: Any) -> dict[str, Any]:
        self.posts += 1
        return {"id": f"p{self.posts:025d}"}

    async def update_post(self, post_id: str, message: str, props: Any = None) -> dict[str, Any]:
        self.edits += 1
        return {"id": post_id}

    async def get_users_by_ids(self, ids: Any) -> list[dict[str, Any]]:
        return [{"id": i, "username": f"agent{i[-2:]}"} for i in ids]

    async def get_user(self, user_id: str) -> dict[str, Any]:
        return {"id": user_id, "username": "x", "timezone": {}}


class StubDirectory:
    def oncall_ids(self) -> frozenset[str]:
        return frozenset()


def make_deps(url: str, clock: list[datetime]) -> tuple[Deps, Any]:
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    desk = Desk(bot_user_id="b" * 26, team_id="t" * 26, team_name="main",
                support_channel_id="s" * 26, standup_channel_id="x" * 26,
                engineering_channel_id="e" * 26, public_url="http://127.0.0.1:1")
    sla = SlaDesk(policy=DEFAULT_POLICY, calendar=BusinessCalendar())
    deps = Deps(gateway=StubGateway(), uow=lambda: SqlUnitOfWork(sessions),  # type: ignore[arg-type]
                clock=lambda: clock[0], desk=desk, signer=Signer(derive_key("bench", fallback="")),
                background=Background(), directory=StubDirectory(), sla=sla)  # type: ignore[arg-type]
    return deps, engine


async def read_and_evaluate(deps: Deps, now: datetime) -> int:
    """The check's read path and decisions, without posting."""
    sla: SlaDesk = deps.sla
    async with deps.uow() as uow:
        due = await uow.tickets.due(now, limit=sla.batch)
        ids = [t.id for t in due if t.id is not None]
        logs = await uow.sla.events(ids)
        zones = await uow.sla.zones(ids)
    owed = 0
    for t in due:
        events = logs.get(t.id or 0, [])
        report = sla.report(t, events, zones.get(t.id or 0), now)
        owed += len(sla_watch.owed(report, sla_watch.sent(events)))
        sla_watch.watch_at(report, sla_watch.sent(events))
    return owed


async def reset(engine: Any, due_ids: list[int]) -> None:
    """Undo a check and its delivery: deadlines back to due, notices unlogged and unqueued."""
    async with engine.begin() as conn:
        for i in due_ids:
            await conn.execute(update(TicketRow.__table__).where(TicketRow.id == i)
                               .values(next_deadline_at=NOW - timedelta(minutes=1 + (i - 1) % 60)))
        await conn.execute(delete(OutboxRow.__table__))
        await conn.execute(delete(TicketEventRow.__table__)
                           .where(TicketEventRow.kind.in_(["sla_warned", "sla_breached"])))


async def check_then_deliver(deps: Deps, engine: Any, due_ids: list[int],
                             runs: int) -> tuple[float, float, int, int]:
    """Median ms of the check (DUE due) and, apart, of delivering what it queued; how many
    notices it queued and how many messages (notices + card edits) were delivered."""
    checks, deliveries, queued = [], [], 0
    gateway: StubGateway = deps.gateway  # type: ignore[assignment]
    for _ in range(runs):
        await reset(engine, due_ids)
        gateway.posts = gateway.edits = 0
        started = time.perf_counter()
        queued = await check_sla(deps, NOW)
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        await deps.background.drain(timeout=600)
        deliveries.append(time.perf_counter() - started)
    delivered = gateway.posts + gateway.edits
    median_ms = [statistics.median(times) * 1000 for times in (checks, deliveries)]
    return median_ms[0], median_ms[1], queued, delivered


async def timed(run: Any, runs: int, before: Any = None) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        if before is not None:
            await before()
        started = time.perf_counter()
        result = await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


async def measure(url: str, n: int, runs: int) -> dict[str, Any]:
    seconds = await seed(url, n)
    clock = [NOW]
    deps, engine = make_deps(url, clock)
    kinds = _layout(n)
    due_ids = [i + 1 for i, k in enumerate(kinds) if k == "due"]
    quiet = NOW - timedelta(hours=3)  # before any deadline: nothing due
    r_due, owed = await timed(lambda: read_and_evaluate(deps, NOW), runs)
    r_none, _ = await timed(lambda: read_and_evaluate(deps, quiet), runs)
    f_due, d_due, queued, delivered = await check_then_deliver(deps, engine, due_ids, runs)
    f_none, _ = await timed(lambda: check_sla(deps, quiet), runs)
    await engine.dispose()
    # "full_*" and "posted" keep the names benchmarks/ours.py reads: the check, and what it queued
    return {"seed_s": seconds, "read_due": r_due, "read_none": r_none, "full_due": f_due,
            "full_none": f_none, "deliver_due": d_due, "owed": owed, "posted": queued,
            "delivered": delivered}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"{'backend':<10} {'tickets':>9} {'due':>4} {'seed s':>7} {'read+eval due ms':>17} "
          f"{'read+eval none ms':>18} {'check due ms':>13} {'per due ms':>11} "
          f"{'check none ms':>14} {'delivery ms':>12} {'per due ms':>11}")
    for n in args.sizes:
        backends: list[tuple[str, str | None]] = []
        tmp = tempfile.mkdtemp(prefix="sla-bench-")
        backends.append(("sqlite", db.normalise_url(f"sqlite:///{Path(tmp) / 'bench.db'}")))
        if not args.no_postgres:
            backends.append(("postgresql", await dbutil.fresh_postgres_url()))
        for name, url in backends:
            if url is None:
                print(f"{name:<10} {n:>9} skipped: {dbutil.skip_reason()}")
                continue
            try:
                await upgrade(url)
                r = await measure(url, n, args.runs)
                print(f"{name:<10} {n:>9} {DUE:>4} {r['seed_s']:>7.1f} {r['read_due']:>17.1f} "
                      f"{r['read_none']:>18.2f} {r['full_due']:>13.1f} "
                      f"{r['full_due'] / DUE:>11.2f} {r['full_none']:>14.2f} "
                      f"{r['deliver_due']:>12.1f} {r['deliver_due'] / DUE:>11.2f}"
                      f"   (owed {r['owed']}, queued {r['posted']}, "
                      f"delivered {r['delivered']})", flush=True)
            finally:
                if name == "postgresql" and url:
                    await dbutil.drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
