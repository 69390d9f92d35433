"""Benchmark: the daily summary's build time (queries + formatting, no posting) vs history.

    .venv/bin/python -m benchmarks.summary_build 10000 100000 [1000000] [--keep DIR] [--runs N]
    .venv/bin/python -m benchmarks.summary_build 100000 --postgres postgresql://user@host/db

For each size, seeds a fresh database in bulk: 70% closed tickets spread over the past year
(3 events each: opened, solved, closed; all before the measured day), 20% open tickets
whose deadline is ahead, 10% open tickets
already due; then adds the same fixed day of activity (DAY_* below) and times the summary build
for that day. The build must stay flat in total history and grow only with the period's activity.
Prints one line per size; not a test.

The rows go in with plain SQL (SQLite) or COPY (PostgreSQL), with the count triggers of migration
0008 off; the counts are then filled in one grouped pass, as that migration does on an existing
database (the same state the triggers keep). Stored SLA outcomes (sla_outcomes, written by the
bot's ticket funnel): the tickets active on the measured day get theirs measured by the same code
(workflows/sla_outcomes.py); every other ticket gets one synthetic first-reply row decided long
before that day (measuring a million logs would take longer than seeding them).
`--unmeasured` empties sla_outcomes (in a copy) before measuring: the cost right after migration
0008, when no ticket has been measured yet. `--keep DIR` (SQLite) and `--postgres SERVER`
(one `summary_bench_<size>_v<SEED_VERSION>` database per size) keep seeded databases for reuse.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from commands.sla.service import SlaDesk  # noqa: E402
from commands.summary import build as build_module  # noqa: E402
from commands.summary.build import TOUCHING, SummaryPolicy, build  # noqa: E402
from commands.summary.chart import render_apart  # noqa: E402
from storage import db  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import TicketEventRow, TicketRow  # noqa: E402
from storage.uow import SqlUnitOfWork  # noqa: E402
from workflows.calendar import BusinessCalendar  # noqa: E402
from workflows.sla import DEFAULT_POLICY  # noqa: E402
from workflows.sla_outcomes import Outcome, outcomes  # noqa: E402
from workflows.summary import render_fitted  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday's slot
DAY_OPENED = 300  # the fixed day of activity
DAY_REPLIES = 400
DAY_SOLVED = 200
DAY_BREACHES = 30
DAY_RATINGS = 60
PRIORITIES = ("urgent", "high", "normal", "low")
CATEGORIES = [f"Category {i}" for i in range(27)]
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite
RUNS = 5
SEED_VERSION = 3  # bump when the seeded rows change: kept databases of older seeds are not reused
BATCH = 20_000
TICKET_COLUMNS = (
    "id", "form", "subject", "description", "category", "priority", "cc_user_ids",
    "requester_id", "requester_username", "organisation", "plan", "status", "assignee_id",
    "hold", "card_post_id", "next_deadline_at", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("ticket_id", "kind", "at", "actor_id", "from_value", "to_value", "data")
OUTCOME_COLUMNS = (
    "ticket_id", "metric", "cycle_key", "verdict", "started_at", "ended_at", "replied",
    "decided_at",
)  # fmt: skip
Rows = list[tuple[Any, ...]]


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime(FMT)


class NoUsers:
    async def get_users_by_ids(self, ids: Any) -> list[dict[str, Any]]:
        return [{"id": i, "username": f"agent{i[-3:]}"} for i in ids]


# --- the rows ------------------------------------------------------------------------------------


def generate(total: int, rng: random.Random) -> Iterator[tuple[Rows, Rows, Rows]]:
    """Batches of (tickets, events, synthetic outcomes), datetimes aware, in TICKET_COLUMNS,
    EVENT_COLUMNS and OUTCOME_COLUMNS order."""
    year = timedelta(days=365)
    tickets: Rows = []
    events: Rows = []
    done: Rows = []
    for i in range(1, total + 1):
        share = i % 10
        # history ends before the measured day (solved within 3 days, closed 2 days later)
        created = NOW - timedelta(days=6) - (year - timedelta(days=6)) * rng.random()
        plan = ("premium", "enterprise", None)[i % 3]
        assignee: str | None = f"agent{i % 40:021d}"  # a 26-character Mattermost id
        if share < 7:  # closed
            status, deadline = "closed", None
            solved = created + timedelta(hours=rng.randint(1, 72))
            updated = solved + timedelta(days=2)
            events += [
                (i, "opened", created, None, None, None, "{}"),
                (i, "status_changed", solved, None, "open", "solved", "{}"),
                (i, "status_changed", updated, None, "solved", "closed", "{}"),
            ]
            done.append((i, "first_reply", "first", "met" if plan else "none", created, solved,
                         False, solved if plan else None))
        else:
            status = ("new", "open", "pending")[i % 3]
            deadline = (
                NOW + timedelta(hours=rng.randint(1, 500))
                if share < 9
                else NOW - timedelta(hours=rng.randint(1, 200))
            )
            events.append((i, "opened", created, None, None, None, "{}"))
            updated = created
            if status == "new":
                assignee = None
            done.append((i, "first_reply", "first", "open" if plan else "none", created, None,
                         False, created + timedelta(days=1) if plan else None))
        tickets.append((
            i, "technical", f"Ticket {i}", "d", CATEGORIES[i % 27], PRIORITIES[i % 4], "[]",
            f"user{i:022d}", f"user{i}", "Acme", plan, status, assignee, False,
            f"card{i:022d}", deadline, created, updated,
        ))  # fmt: skip
        if len(tickets) >= BATCH:
            yield tickets, events, done
            tickets, events, done = [], [], []
    yield tickets, events, done
    yield _active_day(total, rng)


def _active_day(history: int, rng: random.Random) -> tuple[Rows, Rows, Rows]:
    """The fixed day of activity: [NOW - 1 day, NOW)."""
    tickets: Rows = []
    events: Rows = []
    start = NOW - timedelta(days=1)
    next_id = history + 1
    for k in range(DAY_OPENED):
        at = start + timedelta(seconds=rng.randint(0, 86399))
        tickets.append((
            next_id, "technical", f"New {k}", "d", CATEGORIES[k % 27], PRIORITIES[k % 4], "[]",
            f"user{k:022d}", f"user{k}", "Acme", "premium", "open", f"agent{k % 40:021d}",
            False, f"card{next_id:022d}", NOW + timedelta(hours=k % 48 + 1), at, at,
        ))  # fmt: skip
        events.append((next_id, "opened", at, None, None, None, "{}"))
        if k < DAY_REPLIES:
            events.append(
                (next_id, "public_reply", at + timedelta(minutes=30), "agent", None, None, "{}")
            )
        next_id += 1
    recent = list(range(max(1, history - 2000), history + 1))
    open_due = [i for i in recent if i % 10 == 9][:DAY_BREACHES]
    for k in range(DAY_SOLVED):
        at = start + timedelta(minutes=5 * k)
        events.append((recent[k], "status_changed", at, None, "open", "solved", "{}"))
    for k in range(DAY_BREACHES):
        at = start + timedelta(minutes=40 * k)
        events.append(
            (open_due[k % len(open_due)], "sla_breached", at, None, None, "first_reply", "{}")
        )
    for k in range(DAY_RATINGS):
        rating = "bad" if k % 5 == 0 else "good"
        text = json.dumps({"text": "Too slow" if rating == "bad" else ""})
        at = start + timedelta(minutes=20 * k)
        events.append((recent[k], "csat_rated", at, None, None, rating, text))
    return tickets, events, []


def measured(ticket: TicketRow, log: list[TicketEventRow]) -> list[Outcome]:
    """A ticket's outcomes as the bot's funnel leaves them after its last event."""
    return outcomes(
        ticket.to_domain(), [e.to_domain() for e in log], DEFAULT_POLICY, BusinessCalendar(), NOW
    )


# --- SQLite --------------------------------------------------------------------------------------


def _insert(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"


def _sqlite(rows: Rows) -> Rows:
    return [tuple(ts(v) if isinstance(v, datetime) else v for v in row) for row in rows]


def migration_0008() -> Any:
    """The summary-performance migration's module: its count triggers and how it fills them."""
    path = ROOT / "storage" / "migrations" / "versions" / "0008_summary_perf.py"
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(path: Path, total: int, rng: random.Random) -> None:
    """Seed a migrated SQLite database (benchmarks/ours.py calls this too). Loaded in bulk as
    migration 0008 would find it: count triggers off, counts filled in one pass at the end."""
    m = migration_0008()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    for name in m.SQLITE_TRIGGERS:
        con.execute(f"DROP TRIGGER {name}")
    for tickets, events, done in generate(total, rng):
        con.executemany(_insert("tickets", TICKET_COLUMNS), _sqlite(tickets))
        con.executemany(_insert("ticket_events", EVENT_COLUMNS), _sqlite(events))
        con.executemany(_insert("sla_outcomes", OUTCOME_COLUMNS), _sqlite(done))
    for statement in [*m.fill_counts(False), *m.triggers(False)]:
        con.execute(statement)
    _measure_active_day_sqlite(con)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _measure_active_day_sqlite(con: sqlite3.Connection) -> None:
    ids = [i for (i,) in con.execute(_active_sql(), (ts(NOW - timedelta(days=1)), ts(NOW)))]
    con.row_factory = sqlite3.Row
    rows: Rows = []
    for i in ids:
        t = con.execute("SELECT * FROM tickets WHERE id = ?", (i,)).fetchone()
        log = con.execute("SELECT * FROM ticket_events WHERE ticket_id = ?", (i,)).fetchall()
        found = measured(TicketRow(**_parsed(t)), [TicketEventRow(**_parsed(e)) for e in log])
        rows += [(o.ticket_id, o.metric.value, o.cycle_key, o.verdict.value, o.started_at,
                  o.ended_at, o.replied, o.decided_at) for o in found]  # fmt: skip
    con.row_factory = None
    con.executemany("DELETE FROM sla_outcomes WHERE ticket_id = ?", [(i,) for i in ids])
    con.executemany(_insert("sla_outcomes", OUTCOME_COLUMNS), _sqlite(rows))


def _active_sql() -> str:
    kinds = ", ".join(f"'{k.value}'" for k in sorted(TOUCHING))
    return (
        "SELECT DISTINCT ticket_id FROM ticket_events WHERE at >= ? AND at < ? "
        f"AND kind IN ({kinds})"
    )


def _parsed(row: sqlite3.Row) -> dict[str, Any]:
    out = {}
    for column in row.keys():
        raw = row[column]
        if column in ("cc_user_ids", "data"):
            raw = json.loads(raw) if raw else ([] if column == "cc_user_ids" else {})
        elif raw is not None and (column.endswith("_at") or column == "at"):
            raw = datetime.strptime(raw, FMT).replace(tzinfo=UTC)
        elif column == "hold":
            raw = bool(raw)
        out[column] = raw
    return out


# --- PostgreSQL ----------------------------------------------------------------------------------


async def postgres_database(server: str, size: int) -> tuple[str, bool]:
    """(asyncpg URL of the benchmark database for `size`, whether it was created now)."""
    import asyncpg  # the PostgreSQL driver the bot uses; only needed here

    name = f"summary_bench_{size}_v{SEED_VERSION}"
    plain = server.replace("postgresql+asyncpg://", "postgresql://")
    con = await asyncpg.connect(plain)
    try:
        exists = await con.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    base = plain.rsplit("/", 1)[0]
    return f"{base}/{name}", not exists


async def seed_postgres(url: str, total: int, rng: random.Random) -> None:
    """Seed a migrated PostgreSQL database with the same rows: COPY with triggers off (one
    transaction updating a count row thousands of times makes PostgreSQL walk ever longer row
    version chains), then the counts filled in one pass, as migration 0008 does."""
    import asyncpg

    con = await asyncpg.connect(url)
    try:
        await con.execute("SET session_replication_role = replica")  # no triggers, no FK checks
        for tickets, events, done in generate(total, rng):
            await con.copy_records_to_table("tickets", records=tickets, columns=TICKET_COLUMNS)
            await con.copy_records_to_table("ticket_events", records=events,
                                            columns=EVENT_COLUMNS)
            await con.copy_records_to_table("sla_outcomes", records=done,
                                            columns=OUTCOME_COLUMNS)
        await con.execute("SET session_replication_role = DEFAULT")
        async with con.transaction():
            for statement in migration_0008().fill_counts(True):
                await con.execute(statement)
        await con.execute("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))")
    finally:
        await con.close()
    engine = db.create_engine(url)
    try:
        async with SqlUnitOfWork(db.session_factory(engine)) as uow:
            ids = await _active(uow)
            tickets = await uow.summary.tickets(ids)
            logs = await uow.summary.events_for(ids, NOW)
            found = [o for t in tickets.values() for o in outcomes(
                t, logs.get(t.id or 0, []), DEFAULT_POLICY, BusinessCalendar(), NOW)]
            await uow.sla_outcomes.write(found)
            await uow.commit()
    finally:
        await engine.dispose()
    con = await asyncpg.connect(url)
    try:
        await con.execute("VACUUM ANALYZE")
    finally:
        await con.close()


async def _active(uow: SqlUnitOfWork) -> list[int]:
    from sqlalchemy import select

    e = TicketEventRow
    stmt = select(e.ticket_id).where(
        e.at >= NOW - timedelta(days=1), e.at < NOW, e.kind.in_(sorted(TOUCHING))
    ).distinct()
    return sorted(await uow.session.scalars(stmt))


# --- measuring -----------------------------------------------------------------------------------


class Timed:
    """Wraps the period-metrics step to report its share of the build."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.spent = fn, 0.0

    async def __call__(self, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self.fn(*args)
        finally:
            self.spent += time.perf_counter() - t0


async def measure(
    path: Path | str, *, unmeasured: bool = False, runs: int = RUNS, cpu: list[float] | None = None
) -> tuple[float, float, float, int]:
    """(median build s, mean period-metrics s, chart s, post length) on a seeded database: a
    SQLite file, or an asyncpg URL. `cpu` collects each build's CPU time (all threads)."""
    url = str(path) if str(path).startswith("postgresql") else f"sqlite:///{path}"
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    if unmeasured:  # as right after migration 0008: no stored outcome, all measured from logs
        async with SqlUnitOfWork(sessions) as uow:
            from sqlalchemy import delete

            from storage.sla_outcomes import SlaOutcomeRow

            await uow.session.execute(delete(SlaOutcomeRow))
            await uow.commit()
    policy = SummaryPolicy(site_url="http://mm", team_name="main")
    deps = SimpleNamespace(
        uow=lambda: SqlUnitOfWork(sessions),
        clock=lambda: NOW,
        summary=policy,
        gateway=NoUsers(),
        oncall=None,
        escalation=None,
        sla=SlaDesk(policy=DEFAULT_POLICY, calendar=BusinessCalendar()),
        desk=SimpleNamespace(team_name="main"),
    )
    metrics = Timed(build_module._period_metrics)
    build_module._period_metrics = metrics
    times = []
    length = 0
    data = None
    await build(deps, NOW - timedelta(days=1), NOW)  # type: ignore[arg-type]  # warm-up
    metrics.spent = 0.0
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        data = await build(deps, NOW - timedelta(days=1), NOW)  # type: ignore[arg-type]
        length = len(render_fitted(data, policy.permalink))
        times.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    assert data is not None
    t0 = time.perf_counter()
    # as the bot draws it: in a child process (matplotlib never loads into the bot's)
    assert await render_apart(data.days) is not None, "the chart renderer failed"
    chart = time.perf_counter() - t0
    await engine.dispose()
    build_module._period_metrics = metrics.fn
    return statistics.median(times), metrics.spent / runs, chart, length


async def main(sizes: list[int], keep: Path | None = None, unmeasured: bool = False,
               runs: int = RUNS, postgres: str | None = None) -> None:
    print(
        f"{'tickets':>10} {'seed s':>8} {f'build ms (median of {runs})':>24} "
        f"{'build CPU ms':>13} {'of which SLA metrics ms':>24} {'chart png ms':>13} {'chars':>6}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            seeded = 0.0
            target: Path | str
            if postgres:
                target, fresh = await postgres_database(postgres, size)
                if fresh:
                    await upgrade(target)
                    t0 = time.perf_counter()
                    await seed_postgres(target, size, random.Random(size))
                    seeded = time.perf_counter() - t0
                if unmeasured:
                    raise SystemExit("--unmeasured is for SQLite only (it empties a copy)")
            else:
                target = (keep or Path(tmp)) / f"summary-{size}-v{SEED_VERSION}.db"
                if not target.exists():
                    await upgrade(f"sqlite:///{target}")
                    t0 = time.perf_counter()
                    seed(target, size, random.Random(size))
                    seeded = time.perf_counter() - t0
                if unmeasured and keep is not None:  # leave the kept database as seeded
                    target = Path(shutil.copy(target, Path(tmp) / target.name))
            cpu: list[float] = []
            build_s, metrics_s, chart_s, length = await measure(
                target, unmeasured=unmeasured, runs=runs, cpu=cpu
            )
            print(
                f"{size:>10} {seeded:>8.1f} {build_s * 1000:>24.1f} "
                f"{statistics.median(cpu) * 1000:>13.1f} {metrics_s * 1000:>24.1f} "
                f"{chart_s * 1000:>13.0f} {length:>6}",
                flush=True,
            )


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed builds per size (median)")
    parser.add_argument(
        "--keep", type=Path, default=None,
        help="directory for the seeded SQLite databases: reused when present (1M takes minutes)",
    )
    parser.add_argument(
        "--postgres", default=None, metavar="SERVER_URL",
        help="measure on PostgreSQL: a server URL whose user may CREATE DATABASE; the seeded "
        "databases are kept (drop summary_bench_* yourself)",
    )
    parser.add_argument(
        "--unmeasured", action="store_true",
        help="empty sla_outcomes first (in a copy of a --keep database): every active ticket is "
        "measured from its log, as right after migration 0008",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _args(sys.argv[1:])
    asyncio.run(main(args.sizes, args.keep, args.unmeasured, args.runs, args.postgres))
