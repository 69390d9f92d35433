"""Units of work take a connection slot in arrival order, before they reach the pool.

SQLAlchemy's asyncio queue pool is not fair: a connection given back wakes the first waiter,
but a task that asks in the meantime takes it first, so under a steady stream of work some
waiters lose again and again. At 20 concurrent intakes on the SQLite pool (3 + 5 connections)
half the submissions waited 0.6 s for a connection and the unlucky ones 6 s (issue 10). This
gate is a FIFO semaphore (asyncio's does not let newcomers pass waiters) sized a little below
the pool, taken when a unit of work starts and given back when it ends, so the pool itself never
has to make anyone wait. A task already holding a slot (a unit of work inside another) does not
take a second one: that would let tasks that each hold one wait for each other forever.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import exc as sa_exc

RESERVE = 2  # pool connections left outside the gate (a nested unit of work, a health check)
TIMEOUT_S = 30.0  # as SQLAlchemy's pool_timeout: then "try again", never a wait forever


class Gate:
    def __init__(self, size: int, timeout_s: float = TIMEOUT_S) -> None:
        self.size, self.timeout_s = size, timeout_s
        self._free = asyncio.Semaphore(size)
        self._held: dict[asyncio.Task[Any] | None, int] = {}

    async def enter(self) -> None:
        task = asyncio.current_task()
        held = self._held.get(task, 0)
        if not held:
            try:
                await asyncio.wait_for(self._free.acquire(), self.timeout_s)
            except TimeoutError:  # the pool's own error, so callers answer "try again"
                raise sa_exc.TimeoutError(
                    f"no database connection within {self.timeout_s:.0f} s") from None
        self._held[task] = held + 1

    def leave(self) -> None:
        task = asyncio.current_task()
        held = self._held.pop(task, 0) - 1
        if held > 0:
            self._held[task] = held
        elif held == 0:
            self._free.release()


_GATES: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, Gate]] = (
    weakref.WeakKeyDictionary())


def gate_for(bind: Any) -> Gate | None:
    """The gate of an engine's pool on the running loop; None when its pool never waits
    (no fixed size: NullPool, StaticPool) or the bind is unknown."""
    engine = getattr(bind, "sync_engine", bind)
    pool = getattr(engine, "pool", None)
    size = getattr(pool, "size", None)
    if engine is None or not callable(size):
        return None
    capacity = size() + max(0, int(getattr(pool, "_max_overflow", 0)))
    per_loop = _GATES.get(engine)
    if per_loop is None:
        per_loop = _GATES[engine] = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    gate = per_loop.get(loop)
    if gate is None:
        gate = per_loop[loop] = Gate(max(1, capacity - RESERVE))
    return gate
