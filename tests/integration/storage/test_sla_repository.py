"""storage/sla.py on SQLite and PostgreSQL: bulk tickets, logs, touched ids and zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.storage.conftest import UowFactory
from tests.integration.storage.test_repositories import make_ticket
from workflows.model import EventKind, TicketEvent

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
