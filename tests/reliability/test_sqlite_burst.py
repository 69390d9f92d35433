"""Reliability (issue 8): SQLite writes from one process queue instead of racing for the file lock.

`pytest -q -s tests/reliability/test_sqlite_burst.py` prints the burst's figure line.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from commands import replies
from storage import db
from tests.reliability.helpers import card_counts, root_counts
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM, all_tickets

BURST = 100
CUSTOMERS = ("alice", "carol", "dave", "gina")


def _queue(desk: Desk) -> db.WriterQueue:
    return db.writer_queue(make_url(db.normalise_url(desk.db_url)).database or "")


async def _open_forms(desk: Desk, count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` intake forms opened (customers take turns); each is submitted later by itself."""
    opened = []
    for n in range(count):
        user = CUSTOMERS[n % len(CUSTOMERS)]
        await desk.run(user, "/ticket new")
        opened.append((user, desk.emu.store.dialogs[desk.user(user).id][-1]))
    return opened


async def test_a_burst_of_100_simultaneous_submissions_is_all_accepted(desk: Desk) -> None:
    forms = await _open_forms(desk, BURST)
    queue = _queue(desk)
    turns_before = queue.turns
    started = time.monotonic()
    answers = await asyncio.gather(*(
        desk.emu.submit_dialog(desk.user(user), {**FORM, "subject": f"Burst {n}"}, dialog=record)
        for n, (user, record) in enumerate(forms)))
    took = time.monotonic() - started
    await desk.wait_for(lambda: not desk.bot.background.tasks, timeout=60)  # type: ignore[union-attr]
    await desk.settle()
    await desk.run_jobs()  # whatever the first delivery left (none expected) goes out now
    bodies = [a.body if isinstance(a.body, dict) else {} for a in answers]
    accepted = sum(1 for b in bodies if not b)
    again = sum(1 for b in bodies if b.get("error") == replies.temporarily_unavailable())
    stored = await all_tickets(desk)
    cards, roots = card_counts(desk), root_counts(desk, "customer_root")
    announced = sum(1 for t in stored if t.card_post_id and t.customer_root_id)
    duplicates = sum(n - 1 for counts in (cards, roots) for n in counts.values() if n > 1)
    print(f"\n[sqlite burst] submissions {BURST} at once, accepted {accepted}, try-again {again}, "
          f"stored {len(stored)}, announced {announced}, duplicates {duplicates}; answered in "
          f"{took:.2f} s; write turns {queue.turns - turns_before}, longest wait for a turn "
          f"{queue.waited_max_s:.3f} s, queue timeouts {queue.timeouts}")
    assert (accepted, again) == (BURST, 0), [b for b in bodies if b][:3]
    assert len(stored) == BURST and len({t.form.subject for t in stored}) == BURST
    assert announced == BURST and duplicates == 0
    assert queue.timeouts == 0


# --- the queue itself, on a bare engine ---

@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = db.create_engine(db.normalise_url(f"sqlite:///{tmp_path / 'q.db'}"))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


def _engine_queue(engine: Any) -> db.WriterQueue:
    return db.writer_queue(engine.url.database)


async def _write(sessions: Any, value: int, hold: asyncio.Event | None = None) -> None:
    async with sessions() as s:
        await s.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
        if hold is not None:
            await hold.wait()
        await s.commit()


async def test_writers_wait_their_turn_and_readers_do_not(engine: Any) -> None:
    sessions = db.session_factory(engine)
    release = asyncio.Event()
    first = asyncio.create_task(_write(sessions, 1, hold=release))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(_write(sessions, 2))
    await asyncio.sleep(0.05)
    assert not second.done()  # queued behind the first writer, not failing
    async with sessions() as s:  # a reader meanwhile: no turn needed
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    release.set()
    await asyncio.gather(first, second)
    async with sessions() as s:
        assert (await s.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all() == [1, 2]


async def test_a_nested_write_in_the_same_task_fails_at_once_instead_of_waiting(engine: Any) -> None:
    sessions = db.session_factory(engine)
    started = time.monotonic()
    async with sessions() as outer:
        await outer.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(sa_exc.OperationalError, match="database is locked"):
            await _write(sessions, 2)
        await outer.commit()
    assert time.monotonic() - started < 1.0
    await _write(sessions, 3)  # and the queue is free again


async def test_a_writer_that_waits_too_long_gets_database_is_locked(engine: Any) -> None:
    sessions = db.session_factory(engine)
    queue = _engine_queue(engine)
    queue.timeout_s = 0.3
    try:
        release = asyncio.Event()
        holder = asyncio.create_task(_write(sessions, 1, hold=release))
        await asyncio.sleep(0.05)
        with pytest.raises(sa_exc.OperationalError, match="database is locked"):
            await _write(sessions, 2)
        release.set()
        await holder
    finally:
        queue.timeout_s = db.SQLITE_WRITE_QUEUE_TIMEOUT_S


async def test_a_turn_left_by_a_finished_task_is_reclaimed(engine: Any) -> None:
    queue = _engine_queue(engine)
    leaked = object()

    async def leak() -> None:
        await queue.take_turn(leaked)  # never given back, as by a connection lost to GC

    await asyncio.create_task(leak())
    await asyncio.wait_for(_write(db.session_factory(engine), 1), timeout=3)


async def test_writers_keep_their_place_in_line_however_long_they_wait(engine: Any) -> None:
    """The queue re-checks for abandoned turns every second; that must not send the waiter to
    the back of the line (it used to: the longest waiters were served last, seconds late)."""
    queue = _engine_queue(engine)
    order: list[str] = []
    holder = object()
    await queue.take_turn(holder)  # this task has the turn for a while

    async def waiter(name: str, conn: object) -> None:
        await queue.take_turn(conn)
        order.append(name)
        queue.give_back(conn)

    early = asyncio.create_task(waiter("early", object()))
    await asyncio.sleep(0.5)
    late = asyncio.create_task(waiter("late", object()))
    await asyncio.sleep(0.8)  # the early one's re-check (at 1 s) has passed: still first
    queue.give_back(holder)
    await asyncio.wait_for(asyncio.gather(early, late), timeout=5)
    assert order == ["early", "late"]
