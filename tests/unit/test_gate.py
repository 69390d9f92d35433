import asyncio

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

from storage.gate import RESERVE, Gate, gate_for


async def test_waiters_are_served_in_arrival_order_and_newcomers_do_not_pass_them() -> None:
    gate = Gate(1)
    served: list[str] = []
    await gate.enter()  # held by this task

    async def worker(name: str) -> None:
        await gate.enter()
        served.append(name)
        await asyncio.sleep(0)
        gate.leave()

    first = asyncio.create_task(worker("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(worker("second"))
    await asyncio.sleep(0)
    gate.leave()
    late = asyncio.create_task(worker("late"))  # asks right after the slot came free
    await asyncio.gather(first, second, late)
    assert served == ["first", "second", "late"]


async def test_a_task_already_holding_a_slot_does_not_wait_for_a_second() -> None:
    gate = Gate(1)
    await gate.enter()
    async with asyncio.timeout(0.5):
        await gate.enter()  # nested, same task: would wait for itself if it queued
    gate.leave()
    gate.leave()
    async with asyncio.timeout(0.5):
        await gate.enter()  # the slot is free again
    gate.leave()


async def test_a_wait_longer_than_the_timeout_is_a_pool_timeout() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    gate = Gate(1, timeout_s=0.05)
    await gate.enter()

    async def other() -> None:
        await gate.enter()

    try:
        await asyncio.create_task(other())
    except PoolTimeout:
        pass
    else:
        raise AssertionError("waited past the timeout")
    gate.leave()


async def test_the_gate_is_the_pool_minus_a_reserve_and_none_without_a_fixed_pool() -> None:
    engine = create_async_engine("sqlite+aiosqlite:////tmp/gate-test.db",
                                 poolclass=AsyncAdaptedQueuePool, pool_size=3, max_overflow=5)
    unsized = create_async_engine("sqlite+aiosqlite:////tmp/gate-test.db", poolclass=NullPool)
    try:
        gate = gate_for(engine)
        assert gate is not None and gate.size == 3 + 5 - RESERVE
        assert gate_for(engine) is gate  # one per engine and loop
        assert gate_for(unsized) is None
    finally:
        await engine.dispose()
        await unsized.dispose()
