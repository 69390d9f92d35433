"""Replicas (issue 8): the job lease (storage/leases.py) and the guard around every job run
(bot/scheduling.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.scheduling import Jobs, JobSpec
from tests.integration.storage.conftest import UowFactory
from tests.wire.harness import FakeClock
from workflows.model import Customer, Plan

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SLOT = NOW
LEASE = timedelta(seconds=90)


def _name() -> str:
    return f"job-{secrets.token_hex(4)}"  # the PostgreSQL database is shared by the tests


async def _take(uow_factory: UowFactory, name: str, holder: str, *, slot: datetime = SLOT,
                now: datetime = NOW, rerun: bool = False) -> bool:
    async with uow_factory() as uow:
        taken = await uow.leases.take(name, slot, holder, now, now + LEASE, rerun=rerun)
        await uow.commit()
    return bool(taken)


async def _release(uow_factory: UowFactory, name: str, holder: str, *, slot: datetime = SLOT,
                   finished: bool = True) -> None:
    async with uow_factory() as uow:
        await uow.leases.release(name, slot, holder, finished=finished)
        await uow.commit()


async def test_one_holder_per_slot_while_running_and_after(uow_factory: UowFactory) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a") is True
    assert await _take(uow_factory, name, "b") is False  # running
    assert await _take(uow_factory, name, "a") is False  # one run at a time, even here
    await _release(uow_factory, name, "a")
    assert await _take(uow_factory, name, "b") is False  # done
    assert await _take(uow_factory, name, "b", slot=SLOT + timedelta(minutes=1)) is True


async def test_an_older_slot_is_never_run_after_a_newer_one(uow_factory: UowFactory) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a", slot=SLOT + timedelta(minutes=5))
    await _release(uow_factory, name, "a", slot=SLOT + timedelta(minutes=5))
    assert await _take(uow_factory, name, "b", slot=SLOT) is False


async def test_a_dead_holders_slot_is_taken_over_when_its_lease_passes(
    uow_factory: UowFactory,
) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a")  # ... and "a" dies mid-run
    assert await _take(uow_factory, name, "b", now=NOW + LEASE) is False  # not yet
    later = NOW + LEASE + timedelta(seconds=1)
    assert await _take(uow_factory, name, "b", now=later) is True  # the same slot, once more
    await _release(uow_factory, name, "a")  # a late release by the old holder changes nothing
    assert await _take(uow_factory, name, "c", now=later) is False
    async with uow_factory() as uow:
        lease = await uow.leases.get(name)
    assert lease is not None and lease.holder == "b" and lease.until == later + LEASE


async def test_a_failed_run_leaves_its_slot_open(uow_factory: UowFactory) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a")
    await _release(uow_factory, name, "a", finished=False)
    assert await _take(uow_factory, name, "b") is True


async def test_rerun_lets_a_holder_repeat_only_its_own_finished_slot(
    uow_factory: UowFactory,
) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a", rerun=True)
    await _release(uow_factory, name, "a")
    assert await _take(uow_factory, name, "a") is False  # a cron job: once per fire time
    assert await _take(uow_factory, name, "b", rerun=True) is False  # not another replica's
    assert await _take(uow_factory, name, "a", rerun=True) is True  # an interval job, asked again


async def test_renew_extends_only_a_lease_still_held(uow_factory: UowFactory) -> None:
    name = _name()
    assert await _take(uow_factory, name, "a")
    async with uow_factory() as uow:
        assert await uow.leases.renew(name, SLOT, "a", NOW + 2 * LEASE) is True
        assert await uow.leases.renew(name, SLOT, "b", NOW + 2 * LEASE) is False
        await uow.commit()
    assert await _take(uow_factory, name, "b", now=NOW + LEASE + timedelta(seconds=1)) is False


async def test_concurrent_takers_of_one_slot_have_one_winner(uow_factory: UowFactory) -> None:
    name = _name()
    won = await asyncio.gather(*(_take(uow_factory, name, f"r{i}") for i in range(8)))
    assert sum(won) == 1


# --- the guard in bot/scheduling.py ---

def _deps(uow_factory: UowFactory, clock: FakeClock) -> Any:
    return SimpleNamespace(uow=uow_factory, clock=clock)


async def test_replicas_run_each_slot_once(uow_factory: UowFactory) -> None:
    clock, calls = FakeClock(NOW), []

    async def sweep(deps: Any, now: datetime) -> int:
        calls.append(now)
        await asyncio.sleep(0)
        return 1

    specs = [JobSpec(_name(), sweep, every=timedelta(minutes=1))]
    replicas = [Jobs(specs, _deps(uow_factory, clock)) for _ in range(3)]
    for _ in range(4):
        await asyncio.gather(*(r.run_all() for r in replicas))
        clock.advance(minutes=1)
    assert len(calls) == 4
    assert sum(sum(r.skipped.values()) for r in replicas) == 8


async def test_a_replica_dying_mid_run_is_taken_over_after_its_lease(
    uow_factory: UowFactory,
) -> None:
    clock, started, calls = FakeClock(NOW), asyncio.Event(), []

    async def hangs(deps: Any, now: datetime) -> int:
        started.set()
        await asyncio.Event().wait()  # never finishes: the process is as good as dead
        return 0

    async def works(deps: Any, now: datetime) -> int:
        calls.append(now)
        return 1

    name = _name()
    dying = Jobs([JobSpec(name, hangs, every=timedelta(hours=1))], _deps(uow_factory, clock))
    other = Jobs([JobSpec(name, works, every=timedelta(hours=1))], _deps(uow_factory, clock))
    run = asyncio.create_task(dying.run_all())
    await started.wait()
    assert await other.run_all() == {name: 0} and other.skipped == {name: 1}
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await other.run_all() == {name: 1}  # the same hourly slot, taken over
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert calls == [clock.now] and list(other.recent) == [(name, NOW)]


async def test_customers_replaced_by_replicas_starting_together(
    uow_factory: UowFactory, backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("one process per SQLite file (bot/dblock.py)")
    customers = [Customer("Acme Corp", Plan.PREMIUM, ("acme.com",), ()),
                 Customer("Globex", Plan.ENTERPRISE, (), ("gina",))]

    async def start() -> None:
        async with uow_factory() as uow:
            await uow.customers.replace_all(customers)
            await uow.commit()

    await asyncio.gather(*(start() for _ in range(4)))
    async with uow_factory() as uow:
        assert [c.name for c in await uow.customers.all()] == ["Acme Corp", "Globex"]


async def test_real_schedulers_of_two_replicas_run_each_window_once(
    uow_factory: UowFactory,
) -> None:
    """APScheduler itself, on the system clock: the aligned triggers fire together, one runs."""
    calls: list[datetime] = []

    async def sweep(deps: Any, now: datetime) -> int:
        calls.append(now)
        return 1

    specs = [JobSpec(_name(), sweep, every=timedelta(seconds=1))]
    deps = SimpleNamespace(uow=uow_factory, clock=lambda: datetime.now(UTC))
    replicas = [Jobs(specs, deps) for _ in range(2)]
    for r in replicas:
        r.start()
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while sum(len(r.recent) for r in replicas) < 3:  # polls a condition; fires each second
            assert asyncio.get_running_loop().time() < deadline, "the schedulers never fired"
            await asyncio.sleep(0.05)
    finally:
        for r in replicas:
            r.stop()
    slots = [slot for r in replicas for _, slot in r.recent]
    assert len(slots) == len(set(slots)) and sum(sum(r.skipped.values()) for r in replicas) >= 2


async def test_solo_a_dead_incarnations_lease_and_slots_are_ours_at_once(
    uow_factory: UowFactory,
) -> None:
    """SQLite has one process (bot/dblock.py): a restart after kill -9 need not wait out leases."""
    name, cron = _name(), _name()
    assert await _take(uow_factory, name, "old")  # killed mid-run
    assert await _take(uow_factory, cron, "old")
    await _release(uow_factory, cron, "old")
    async with uow_factory() as uow:
        assert await uow.leases.take(name, SLOT, "new", NOW, NOW + LEASE, solo=True) is True
        assert await uow.leases.take(name, SLOT, "new", NOW, NOW + LEASE, solo=True) is False
        assert await uow.leases.take(cron, SLOT, "new", NOW, NOW + LEASE, solo=True) is False
        assert await uow.leases.take(cron, SLOT, "new", NOW, NOW + LEASE, rerun=True,
                                     solo=True) is True
        await uow.commit()
