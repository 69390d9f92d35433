"""Benchmark: the daily summary's build time (queries + formatting, no posting) vs history.

    .venv/bin/python -m benchmarks.summary_build 10000 100000 [1000000] [--keep DIR]

For each size, seeds a fresh SQLite database in bulk: 70% closed tickets spread over the past year
(3 events each: opened, solved, closed; all before the measured day), 20% open tickets
whose deadline is ahead, 10% open tickets
already due; then adds the same fixed day of activity (DAY_* below) and times the summary build
for that day. The build must stay flat in total history and grow only with the period's activity.
Prints one line per size; not a test.

The rows go in with plain SQL, so the migration's triggers keep the summary's counts as the bot
would. Stored SLA outcomes (sla_outcomes, written by the bot's ticket funnel): the tickets active
on the measured day get theirs measured by the same code (workflows/sla_outcomes.py); every
other ticket gets one synthetic first-reply row decided long before that day (measuring a
million logs would take longer than seeding them). `--unmeasured` empties sla_outcomes before
measuring: the cost right after migration 0008, when no ticket has been measured yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from commands.sla.service import SlaDesk  # noqa: E402
from commands.summary import build as build_module  # noqa: E402
from commands.summary.build import SummaryPolicy, build  # noqa: E402
from commands.summary.chart import render_png  # noqa: E402
from storage import db  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import TicketEventRow, TicketRow  # noqa: E402
from storage.uow import SqlUnitOfWork  # noqa: E402
from workflows.calendar import BusinessCalendar  # noqa: E402
from workflows.sla import DEFAULT_POLICY  # noqa: E402
from workflows.sla_outcomes import outcomes  # noqa: E402
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
SEED_VERSION = 2  # bump when seed() changes: --keep databases of older seeds are not reused


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime(FMT)


class NoUsers:
    async def get_users_by_ids(self, ids: Any) -> list[dict[str, Any]]:
        return [{"id": i, "username": f"agent{i[-3:]}"} for i in ids]


def seed(path: Path, total: int, rng: random.Random) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    cols = (
        "id, form, subject, description, category, priority, cc_user_ids, requester_id, "
        "requester_username, organisation, plan, status, assignee_id, hold, card_post_id, "
        "next_deadline_at, created_at, updated_at"
    )
    tickets_sql = f"INSERT INTO tickets ({cols}) VALUES ({','.join('?' * 18)})"
    events_sql = (
        "INSERT INTO ticket_events (ticket_id, kind, at, actor_id, from_value, to_value, data) "
        "VALUES (?,?,?,?,?,?,?)"
    )
    year = timedelta(days=365)
    batch_t: list[tuple[Any, ...]] = []
    batch_e: list[tuple[Any, ...]] = []
    batch_o: list[tuple[Any, ...]] = []

    def flush() -> None:
        con.executemany(tickets_sql, batch_t)
        con.executemany(events_sql, batch_e)
        con.executemany(OUTCOMES_SQL, batch_o)
        batch_t.clear()
        batch_e.clear()
        batch_o.clear()

    history = total
    for i in range(1, history + 1):
        share = i % 10
        # history ends before the measured day (solved within 3 days, closed 2 days later)
        created = NOW - timedelta(days=6) - (year - timedelta(days=6)) * rng.random()
        priority = PRIORITIES[i % 4]
        plan = ("premium", "enterprise", None)[i % 3]
        assignee = f"agent{i % 40:023d}"
        if share < 7:  # closed
            status, deadline = "closed", None
            solved = created + timedelta(hours=rng.randint(1, 72))
            batch_e += [
                (i, "opened", ts(created), None, None, None, "{}"),
                (i, "status_changed", ts(solved), None, "open", "solved", "{}"),
                (
                    i,
                    "status_changed",
                    ts(solved + timedelta(days=2)),
                    None,
                    "solved",
                    "closed",
                    "{}",
                ),
            ]
            updated = solved + timedelta(days=2)
            verdict = "met" if plan else "none"
            batch_o.append((i, "first_reply", "first", verdict, ts(created), ts(solved), 0,
                            ts(solved) if plan else None))
        else:
            status = ("new", "open", "pending")[i % 3]
            deadline = (
                NOW + timedelta(hours=rng.randint(1, 500))
                if share < 9
                else NOW - timedelta(hours=rng.randint(1, 200))
            )
            batch_e.append((i, "opened", ts(created), None, None, None, "{}"))
            updated = created
            if status == "new":
                assignee = None
            due = created + timedelta(days=1)
            batch_o.append((i, "first_reply", "first", "open" if plan else "none", ts(created),
                            None, 0, ts(due) if plan else None))
        batch_t.append(
            (
                i,
                "technical",
                f"Ticket {i}",
                "d",
                CATEGORIES[i % 27],
                priority,
                "[]",
                f"user{i:022d}",
                f"user{i}",
                "Acme",
                plan,
                status,
                assignee,
                0,
                f"card{i:022d}",
                ts(deadline) if deadline else None,
                ts(created),
                ts(updated),
            )
        )
        if len(batch_t) >= 20000:
            flush()
    flush()
    # The fixed day of activity: [NOW - 1 day, NOW).
    start = NOW - timedelta(days=1)
    next_id = history + 1
    for k in range(DAY_OPENED):
        at = start + timedelta(seconds=rng.randint(0, 86399))
        batch_t.append(
            (
                next_id,
                "technical",
                f"New {k}",
                "d",
                CATEGORIES[k % 27],
                PRIORITIES[k % 4],
                "[]",
                f"user{k:022d}",
                f"user{k}",
                "Acme",
                "premium",
                "open",
                f"agent{k % 40:023d}",
                0,
                f"card{next_id:022d}",
                ts(NOW + timedelta(hours=k % 48 + 1)),
                ts(at),
                ts(at),
            )
        )
        batch_e.append((next_id, "opened", ts(at), None, None, None, "{}"))
        if k < DAY_REPLIES:
            batch_e.append(
                (
                    next_id,
                    "public_reply",
                    ts(at + timedelta(minutes=30)),
                    "agent",
                    None,
                    None,
                    "{}",
                )
            )
        next_id += 1
    recent = list(range(max(1, history - 2000), history + 1))
    open_due = [i for i in range(max(1, history - 2000), history + 1) if i % 10 == 9][
        :DAY_BREACHES
    ]
    for k in range(DAY_SOLVED):
        batch_e.append(
            (
                recent[k],
                "status_changed",
                ts(start + timedelta(minutes=5 * k)),
                None,
                "open",
                "solved",
                "{}",
            )
        )
    for k in range(DAY_BREACHES):
        batch_e.append(
            (
                open_due[k % len(open_due)],
                "sla_breached",
                ts(start + timedelta(minutes=40 * k)),
                None,
                None,
                "first_reply",
                "{}",
            )
        )
    for k in range(DAY_RATINGS):
        rating = "bad" if k % 5 == 0 else "good"
        batch_e.append(
            (
                recent[k],
                "csat_rated",
                ts(start + timedelta(minutes=20 * k)),
                None,
                None,
                rating,
                json.dumps({"text": "Too slow" if rating == "bad" else ""}),
            )
        )
    flush()
    measure_active_day(con, start)
    con.commit()
    con.execute("ANALYZE")
    con.close()


OUTCOMES_SQL = (
    "INSERT OR REPLACE INTO sla_outcomes (ticket_id, metric, cycle_key, verdict, started_at, "
    "ended_at, replied, decided_at) VALUES (?,?,?,?,?,?,?,?)"
)


def measure_active_day(con: sqlite3.Connection, start: datetime) -> None:
    """Store the outcomes of the tickets active on the measured day as the bot's funnel would
    have after their last event: measured from their logs by workflows/sla_outcomes.py."""
    ids = [
        i
        for (i,) in con.execute(
            "SELECT DISTINCT ticket_id FROM ticket_events WHERE at >= ? AND at < ? "
            "AND kind IN ('public_reply', 'status_changed', 'sla_breached')",
            (ts(start), ts(NOW)),
        )
    ]
    con.row_factory = sqlite3.Row
    rows: list[tuple[Any, ...]] = []
    for i in ids:
        t = con.execute("SELECT * FROM tickets WHERE id = ?", (i,)).fetchone()
        ticket = TicketRow(**{k: _value(k, t[k]) for k in t.keys()}).to_domain()
        log = [
            TicketEventRow(**{k: _value(k, e[k]) for k in e.keys()}).to_domain()
            for e in con.execute("SELECT * FROM ticket_events WHERE ticket_id = ?", (i,))
        ]
        con.execute("DELETE FROM sla_outcomes WHERE ticket_id = ?", (i,))
        for o in outcomes(ticket, log, DEFAULT_POLICY, BusinessCalendar(), NOW):
            rows.append((
                o.ticket_id, o.metric.value, o.cycle_key, o.verdict.value, ts(o.started_at),
                ts(o.ended_at) if o.ended_at else None, int(o.replied),
                ts(o.decided_at) if o.decided_at else None,
            ))  # fmt: skip
    con.row_factory = None
    con.executemany(OUTCOMES_SQL, rows)


def _value(column: str, raw: Any) -> Any:
    if column in ("cc_user_ids", "data"):
        return json.loads(raw) if raw else ([] if column == "cc_user_ids" else {})
    if column.endswith("_at") or column == "at":
        return datetime.strptime(raw, FMT).replace(tzinfo=UTC) if raw else None
    if column == "hold":
        return bool(raw)
    return raw


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


async def measure(path: Path, *, unmeasured: bool = False) -> tuple[float, float, float, int]:
    url = f"sqlite:///{path}"
    if unmeasured:  # as right after migration 0008: no stored outcome, all measured from logs
        con = sqlite3.connect(path)
        con.execute("DELETE FROM sla_outcomes")
        con.commit()
        con.close()
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
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
    for _ in range(RUNS):
        t0 = time.perf_counter()
        data = await build(deps, NOW - timedelta(days=1), NOW)  # type: ignore[arg-type]
        length = len(render_fitted(data, policy.permalink))
        times.append(time.perf_counter() - t0)
    assert data is not None
    t0 = time.perf_counter()
    render_png(data.days)
    chart = time.perf_counter() - t0
    await engine.dispose()
    build_module._period_metrics = metrics.fn
    return statistics.median(times), metrics.spent / RUNS, chart, length


async def main(sizes: list[int], keep: Path | None = None, unmeasured: bool = False) -> None:
    print(
        f"{'tickets':>10} {'seed s':>8} {f'build ms (median of {RUNS})':>24} "
        f"{'of which SLA metrics ms':>24} {'chart png ms':>13} {'chars':>6}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = (keep or Path(tmp)) / f"summary-{size}-v{SEED_VERSION}.db"
            seeded = 0.0
            if not path.exists():
                await upgrade(f"sqlite:///{path}")
                t0 = time.perf_counter()
                seed(path, size, random.Random(size))
                seeded = time.perf_counter() - t0
            if unmeasured and keep is not None:  # leave the kept database as seeded
                path = Path(shutil.copy(path, Path(tmp) / path.name))
            build_s, metrics_s, chart_s, length = await measure(path, unmeasured=unmeasured)
            print(
                f"{size:>10} {seeded:>8.1f} {build_s * 1000:>24.1f} {metrics_s * 1000:>24.1f} "
                f"{chart_s * 1000:>13.0f} {length:>6}",
                flush=True,
            )


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument(
        "--keep", type=Path, default=None,
        help="directory for the seeded databases: reused when present (seeding 1M takes minutes)",
    )
    parser.add_argument(
        "--unmeasured", action="store_true",
        help="empty sla_outcomes first (in a copy of a --keep database): every active ticket is "
        "measured from its log, as right after migration 0008",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _args(sys.argv[1:])
    asyncio.run(main(args.sizes, args.keep, args.unmeasured))
