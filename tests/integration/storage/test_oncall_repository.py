"""The on-call repository on SQLite and PostgreSQL: page claims, facts, overrides, ack, resolve."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.integration.storage.conftest import UowFactory
from tests.integration.storage.test_repositories import T0, add_tickets, make_ticket
from workflows.model import EventKind, Plan, Priority, Status, TicketEvent
from workflows.oncall import PAGEABLE, StoredOverride

SAM = "s" * 26


async def test_a_page_is_claimed_once_even_by_concurrent_checks(uow_factory: UowFactory) -> None:
    [t] = await add_tickets(uow_factory, make_ticket(plan=Plan.PREMIUM, priority=Priority.URGENT))

    async def claim() -> bool:
        async with uow_factory() as uow:
            won = await uow.oncall.claim_page(t.id, 1, "primary", "sam", T0)
            await uow.commit()
        return won

    assert sorted(await asyncio.gather(claim(), claim(), claim())) == [False, False, True]
    async with uow_factory() as uow:
        assert await uow.oncall.claim_page(t.id, 1, "secondary", "tess", T0)  # another level
        await uow.oncall.release_page(t.id, 1, "secondary")
        await uow.commit()
    async with uow_factory() as uow:
        [page] = (await uow.oncall.pages_for([t.id]))[t.id]
    assert (page.round, page.level, page.username, page.paged_at) == (1, "primary", "sam", T0)


async def test_only_unfinished_pageable_tickets_are_candidates(uow_factory: UowFactory) -> None:
    urgent, high, normal, enterprise, solved, none = await add_tickets(
        uow_factory,
        make_ticket(plan=Plan.PREMIUM, priority=Priority.URGENT),
        make_ticket(plan=Plan.PREMIUM, priority=Priority.HIGH),
        make_ticket(plan=Plan.PREMIUM, priority=Priority.NORMAL),
        make_ticket(plan=Plan.ENTERPRISE, priority=Priority.URGENT),
        make_ticket(plan=Plan.PREMIUM, priority=Priority.URGENT, status=Status.SOLVED,
                    assignee_id=SAM),
        make_ticket(priority=Priority.URGENT),
    )
    async with uow_factory() as uow:
        found = await uow.oncall.pageable_tickets(PAGEABLE)
    assert [t.id for t in found] == [urgent.id, high.id]


async def test_facts_ack_and_resolve(uow_factory: UowFactory) -> None:
    [t] = await add_tickets(uow_factory, make_ticket(plan=Plan.PREMIUM, priority=Priority.URGENT))
    later = T0 + timedelta(minutes=5)
    async with uow_factory() as uow:
        for kind, at in ((EventKind.PUBLIC_REPLY, T0), (EventKind.PUBLIC_REPLY, later),
                         (EventKind.CUSTOMER_MESSAGE, later), (EventKind.OPENED, later)):
            await uow.events.add(TicketEvent(t.id, kind, at))
        await uow.oncall.claim_page(t.id, 1, "primary", "sam", T0)
        await uow.commit()
    async with uow_factory() as uow:
        facts = (await uow.oncall.page_facts([t.id, 999]))
        assert facts[t.id].first_public_reply_at == T0
        assert facts[t.id].last_public_reply_at == later == facts[t.id].last_customer_message_at
        assert facts[999].acknowledged_at is None
        assert await uow.oncall.tickets_with_open_pages() == [t.id]
        assert await uow.oncall.acknowledge(t.id, SAM, later) == 1
        assert await uow.oncall.acknowledge(t.id, SAM, later) == 0  # once
        assert await uow.oncall.resolve(t.id, later) == 1
        assert await uow.oncall.resolve(t.id, later) == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.oncall.tickets_with_open_pages() == []
        assert await uow.oncall.open_pages(t.id) == []


async def test_overrides_are_listed_until_they_end_and_removed(uow_factory: UowFactory) -> None:
    old = StoredOverride(None, SAM, "sam", T0 - timedelta(days=2), T0 - timedelta(days=1))
    now = StoredOverride(None, SAM, "sam", T0, T0 + timedelta(hours=8), "secondary", "EMEA", SAM)
    async with uow_factory() as uow:
        await uow.oncall.add_override(old, created_at=T0)
        new_id = await uow.oncall.add_override(now, created_at=T0)
        await uow.commit()
    async with uow_factory() as uow:
        [listed] = await uow.oncall.overrides(ending_after=T0)
        assert listed.id == new_id and listed.to_rota().region == "EMEA"
        assert (await uow.oncall.remove_override(new_id)).username == "sam"
        assert await uow.oncall.remove_override(new_id) is None
        await uow.commit()
