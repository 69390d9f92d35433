"""storage/sla.py on SQLite and PostgreSQL: bulk tickets, logs, touched ids and zones, and the
SLA check's batch writes (with the outbox's bulk queueing they use)."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import make_url

from tests.integration.storage.conftest import UowFactory
from tests.integration.storage.test_repositories import ALICE, make_ticket
from workflows.model import EventKind, TicketEvent
from workflows.outbox import Outbound

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def test_bulk_reads_return_each_tickets_log_in_order_and_its_zone(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        ids = [(await uow.tickets.add(make_ticket())).id for _ in range(3)]
        a, b, c = ids
        await uow.events.add(TicketEvent(a, EventKind.PUBLIC_REPLY, T0 + timedelta(hours=1)))
        await uow.events.add(TicketEvent(a, EventKind.OPENED, T0))
        await uow.events.add(TicketEvent(b, EventKind.OPENED, T0 - timedelta(days=30)))
        await uow.claims.set("sla_zone", str(a), "Asia/Tokyo")
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.sla.tickets([c, a, a])
        logs = await uow.sla.events([a, b, c])
        touched = await uow.sla.touched_between(T0 - timedelta(days=1), T0 + timedelta(days=1))
        zones = await uow.sla.zones([a, b])
    assert [t.id for t in found] == [a, c]
    assert [e.kind for e in logs[a]] == [EventKind.OPENED, EventKind.PUBLIC_REPLY]
    assert c not in logs and touched == [a]
    assert zones == {a: "Asia/Tokyo"}


async def test_empty_id_lists_read_nothing(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.sla.tickets([]) == [] and await uow.sla.events([]) == {}
        assert await uow.sla.zones([]) == {}


# --- the SLA check's batch writes (issue 10) ---------------------------------------------------
async def _due_tickets(uow_factory: UowFactory, *deadlines: datetime | None) -> list[int]:
    async with uow_factory() as uow:
        ids = []
        for at in deadlines:
            t = await uow.tickets.add(make_ticket())
            await uow.tickets.save(replace(t, next_deadline_at=at))
            ids.append(t.id)
        await uow.commit()
    return ids


async def test_lock_due_reads_the_tickets_still_due_as_stored_now(uow_factory: UowFactory) -> None:
    a, b, c = await _due_tickets(uow_factory, T0, T0 + timedelta(hours=1), T0 - timedelta(hours=1))
    async with uow_factory() as uow:
        locked = await uow.sla.lock_due([c, b, a], T0)
        await uow.commit()
    assert [(t.id, t.next_deadline_at) for t in locked] == [(a, T0), (c, T0 - timedelta(hours=1))]
    async with uow_factory() as uow:
        assert await uow.sla.lock_due([], T0) == []


async def test_due_people_reads_who_is_due_with_the_stored_zone(uow_factory: UowFactory) -> None:
    a, b, c = await _due_tickets(uow_factory, T0 - timedelta(hours=2), T0 + timedelta(hours=1),
                                 T0 - timedelta(hours=1))
    async with uow_factory() as uow:
        await uow.claims.set("sla_zone", str(a), "Asia/Tokyo")
        await uow.claims.set("sla_zone", str(b), "Europe/Paris")  # not due: not read
        await uow.commit()
    async with uow_factory() as uow:
        due = [row for row in await uow.sla.due_people(T0, 500) if row[0] in (a, b, c)]
        first = await uow.sla.due_people(T0, 1)
    assert [(tid, zone) for tid, _, _, zone in due] == [(a, "Asia/Tokyo"), (c, None)]
    assert all(requester == ALICE for _, _, requester, _ in due)
    assert len(first) == 1


async def test_batch_writes_log_events_and_store_deadlines(uow_factory: UowFactory) -> None:
    a, b = await _due_tickets(uow_factory, T0, T0)
    async with uow_factory() as uow:
        await uow.sla.lock_due([a, b], T0)
        await uow.sla.add_events([
            TicketEvent(a, EventKind.SLA_WARNED, T0, to_value="first_reply",
                        data={"metric": "first_reply", "cycle": "first", "key": "t1:sla:x"}),
            TicketEvent(b, EventKind.SLA_BREACHED, T0, to_value="first_reply")])
        await uow.sla.set_deadlines({a: T0 + timedelta(hours=1), b: None})
        await uow.sla.add_events([])
        await uow.sla.set_deadlines({})
        await uow.commit()
    async with uow_factory() as uow:
        logs = await uow.sla.events([a, b])
        stored = {t.id: t.next_deadline_at for t in await uow.sla.tickets([a, b])}
    assert [(e.kind, e.data.get("key")) for e in logs[a]] == [(EventKind.SLA_WARNED, "t1:sla:x")]
    assert [e.kind for e in logs[b]] == [EventKind.SLA_BREACHED]
    assert stored == {a: T0 + timedelta(hours=1), b: None}


async def test_lock_due_skips_a_ticket_another_transaction_holds(
    uow_factory: UowFactory, backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: see the next test")
    a, b = await _due_tickets(uow_factory, T0, T0)
    async with uow_factory() as holder:
        assert await holder.tickets.get_for_update(a) is not None  # a change in progress
        async with uow_factory() as uow:
            locked = await uow.sla.lock_due([a, b], T0)
    assert [t.id for t in locked] == [b]


async def test_lock_due_on_sqlite_holds_the_write_lock_until_the_end(
    uow_factory: UowFactory, db_url: str, backend: str,
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL locks rows: see the previous test")
    (a,) = await _due_tickets(uow_factory, T0)
    other = sqlite3.connect(make_url(db_url).database or "", timeout=0.05)
    try:
        async with uow_factory() as uow:
            assert [t.id for t in await uow.sla.lock_due([a], T0)] == [a]
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # a change in between would have to wait
        other.execute("BEGIN IMMEDIATE")  # released when the unit of work ends
        other.rollback()
    finally:
        other.close()


async def test_outbox_bulk_queueing_keeps_order_and_each_key_once(uow_factory: UowFactory) -> None:
    tag = secrets.token_hex(4)  # PostgreSQL keeps the outbox between tests
    first = [Outbound(f"{tag}:{n}", f"l{tag}", message=str(n)) for n in range(3)]
    async with uow_factory() as uow:
        assert await uow.outbox.add_all(first[:1], T0) == {f"{tag}:0"}
        added = await uow.outbox.add_all([*first, Outbound(f"{tag}:edit", f"l{tag}",
                                                           render="card")], T0)
        assert await uow.outbox.add_all([], T0) == set()
        await uow.commit()
    assert added == {f"{tag}:1", f"{tag}:2", f"{tag}:edit"}
    async with uow_factory() as uow:
        leased = await uow.outbox.lease_heads(now=T0, until=T0 + timedelta(minutes=1), holder="x",
                                              limit=10, lanes=[f"l{tag}"])
        waiting = await uow.outbox.waiting_lanes([f"l{tag}", "nothing"], "card", T0)
        await uow.commit()
    assert [m.message.key for m in leased] == [f"{tag}:0"]  # the head of the lane: queued first
    assert waiting == {f"l{tag}"}


async def test_the_checks_fast_row_mapping_reads_a_ticket_as_the_repository_does(
    uow_factory: UowFactory,
) -> None:
    """storage/sla.py maps rows to tickets itself (positional, for the sweep's speed): every
    field must come back as `tickets.get` gives it, so a new column cannot be missed there."""
    from workflows.model import Plan, Priority, Status

    ticket = make_ticket(priority=Priority.URGENT, environment="production",
                         mattermost_version="10.11", mobile_version="2.20",
                         mobile_device="Pixel 8", cc_user_ids=("u" * 26,), plan=Plan.PREMIUM)
    async with uow_factory() as uow:
        stored = await uow.tickets.add(replace(ticket, status=Status.OPEN, assignee_id="a" * 26,
                                               hold=True, next_deadline_at=T0))
        assert stored.id is not None
        await uow.tickets.set_posts(stored.id, card_post_id="c" * 26,
                                    customer_channel_id="d" * 26, customer_root_id="r" * 26)
        await uow.commit()
    async with uow_factory() as uow:
        via_repository = await uow.tickets.get(stored.id)
        via_check = await uow.sla.tickets([stored.id])
    assert via_check == [via_repository]
    assert via_repository is not None and via_repository.card_post_id == "c" * 26
