"""The SQL repositories and unit of work, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from commands.ports import TicketQuery
from storage.uow import SqlUnitOfWork
from tests.integration.storage.conftest import UowFactory
from workflows.model import (
    Customer,
    EventKind,
    Form,
    Plan,
    Priority,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
ALICE, BOB, CAROL, AGENT = "a" * 26, "b" * 26, "c" * 26, "d" * 26


def make_ticket(**overrides: Any) -> Ticket:
    form_fields = {k: overrides.pop(k) for k in list(overrides) if k in TicketForm.__slots__}
    requester_fields = {
        k: overrides.pop(k)
        for k in ("user_id", "username", "organisation", "plan")
        if k in overrides
    }
    form = TicketForm(
        **{
            "form": Form.TECHNICAL,
            "subject": "Push notifications stopped",
            "description": "Since the upgrade no phone gets pushes.",
            "category": "notifications",
            **form_fields,
        }
    )
    requester = Requester(
        **{"user_id": ALICE, "username": "alice", "organisation": "Acme", **requester_fields}
    )
    return Ticket(
        **{
            "id": None,
            "form": form,
            "requester": requester,
            "status": Status.NEW,
            "created_at": T0,
            "updated_at": T0,
            **overrides,
        }
    )


async def add_tickets(uow_factory: UowFactory, *tickets: Ticket) -> list[Ticket]:
    async with uow_factory() as uow:
        stored = [await uow.tickets.add(t) for t in tickets]
        await uow.commit()
    return stored


# --- tickets -------------------------------------------------------------------------------


async def test_a_full_ticket_round_trips_with_aware_utc_datetimes(uow_factory: UowFactory) -> None:
    [parent] = await add_tickets(uow_factory, make_ticket())
    ticket = make_ticket(
        form=Form.TECHNICAL,
        subject="Mobile app crashes — «emoji» ✅",
        priority=Priority.URGENT,
        environment="self-hosted",
        mattermost_version="9.11.2",
        mobile_version="2.20.0",
        mobile_device="Pixel 8, Android 14",
        cc_user_ids=(BOB, CAROL),
        plan=Plan.ENTERPRISE,
        status=Status.OPEN,
        created_at=datetime(2025, 3, 10, 10, 30, 15, 123456, tzinfo=CET),
        updated_at=datetime(2025, 3, 10, 11, 0, tzinfo=CET),
        assignee_id=AGENT,
        hold=True,
        card_post_id="p" * 26,
        customer_channel_id="h" * 26,
        customer_root_id="r" * 26,
        next_deadline_at=datetime(2025, 3, 10, 13, 30, tzinfo=CET),
        follow_up_of=parent.id,
    )

    stored = await add_tickets(uow_factory, ticket)
    async with uow_factory() as uow:
        loaded = await uow.tickets.get(stored[0].id)

    assert loaded == replace(ticket, id=stored[0].id)
    assert loaded is not None
    for moment in (loaded.created_at, loaded.updated_at, loaded.next_deadline_at):
        assert moment is not None
        assert moment.tzinfo == UTC
    assert loaded.created_at == datetime(2025, 3, 10, 9, 30, 15, 123456, tzinfo=UTC)


async def test_ids_are_assigned_in_order(uow_factory: UowFactory) -> None:
    first, second = await add_tickets(uow_factory, make_ticket(), make_ticket())

    assert first.id is not None
    assert second.id == first.id + 1


async def test_add_refuses_a_ticket_that_already_has_an_id(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="save"):
            await uow.tickets.add(make_ticket(id=7))


async def test_get_of_an_unknown_id_is_none(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.tickets.get(4242) is None
        assert await uow.tickets.get_for_update(4242) is None


async def test_save_writes_every_mutable_field(uow_factory: UowFactory) -> None:
    [ticket] = await add_tickets(uow_factory, make_ticket(cc_user_ids=(BOB,)))
    changed = replace(
        ticket,
        form=replace(
            ticket.form, subject="New subject", priority=Priority.HIGH, cc_user_ids=(CAROL,)
        ),
        requester=replace(ticket.requester, organisation="Globex", plan=Plan.PREMIUM),
        status=Status.PENDING,
        updated_at=T0 + timedelta(hours=1),
        assignee_id=AGENT,
        hold=True,
        card_post_id="p" * 26,
        customer_channel_id="h" * 26,
        customer_root_id="r" * 26,
        next_deadline_at=T0 + timedelta(hours=4),
    )

    async with uow_factory() as uow:
        await uow.tickets.save(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.tickets.get(ticket.id) == changed
        assert await uow.tickets.find(TicketQuery(involving_user_id=BOB)) == []
        assert await uow.tickets.find(TicketQuery(involving_user_id=CAROL)) == [changed]


async def test_save_of_a_ticket_that_is_not_stored_fails(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(LookupError):
            await uow.tickets.save(make_ticket(id=999))
        with pytest.raises(ValueError, match="add"):
            await uow.tickets.save(make_ticket())


async def test_tickets_are_found_by_card_post_and_by_customer_root(
    uow_factory: UowFactory,
) -> None:
    [ticket, _] = await add_tickets(
        uow_factory,
        make_ticket(card_post_id="p" * 26, customer_root_id="r" * 26),
        make_ticket(card_post_id="q" * 26, customer_root_id="s" * 26),
    )

    async with uow_factory() as uow:
        assert await uow.tickets.get_by_card_post("p" * 26) == ticket
        assert await uow.tickets.get_by_customer_root("r" * 26) == ticket
        assert await uow.tickets.get_by_card_post("r" * 26) is None
        assert await uow.tickets.get_by_customer_root("nope") is None


async def test_two_tickets_cannot_share_a_card_post(uow_factory: UowFactory) -> None:
    await add_tickets(uow_factory, make_ticket(card_post_id="p" * 26))

    async with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            await uow.tickets.add(make_ticket(card_post_id="p" * 26))


async def test_naive_datetimes_are_refused(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.tickets.add(make_ticket(created_at=datetime(2025, 1, 1)))  # noqa: DTZ001


# --- find ----------------------------------------------------------------------------------

QUEUE = {
    "low-old": make_ticket(priority=Priority.LOW, created_at=T0),
    "urgent-new": make_ticket(priority=Priority.URGENT, created_at=T0 + timedelta(hours=3)),
    "normal-mid": make_ticket(
        priority=Priority.NORMAL,
        created_at=T0 + timedelta(hours=1),
        status=Status.OPEN,
        assignee_id=AGENT,
        plan=Plan.PREMIUM,
        category="billing",
    ),
    "urgent-old": make_ticket(
        priority=Priority.URGENT,
        created_at=T0 + timedelta(hours=2),
        status=Status.PENDING,
        plan=Plan.ENTERPRISE,
        cc_user_ids=(BOB, CAROL),
    ),
    "high": make_ticket(
        priority=Priority.HIGH,
        created_at=T0 + timedelta(hours=4),
        status=Status.SOLVED,
        user_id=BOB,
        username="bob",
        assignee_id=AGENT,
    ),
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (TicketQuery(), ["urgent-old", "urgent-new", "high", "normal-mid", "low-old"]),
        (TicketQuery(limit=2), ["urgent-old", "urgent-new"]),
        (
            TicketQuery(statuses=frozenset({Status.NEW, Status.OPEN})),
            ["urgent-new", "normal-mid", "low-old"],
        ),
        (TicketQuery(statuses=frozenset()), []),
        (TicketQuery(priority=Priority.URGENT), ["urgent-old", "urgent-new"]),
        (TicketQuery(assignee_id=AGENT), ["high", "normal-mid"]),
        (TicketQuery(unassigned=True), ["urgent-old", "urgent-new", "low-old"]),
        (TicketQuery(plan="premium"), ["normal-mid"]),
        (TicketQuery(plan="enterprise"), ["urgent-old"]),
        (TicketQuery(plan="none"), ["urgent-new", "high", "low-old"]),
        (TicketQuery(category="billing"), ["normal-mid"]),
        (TicketQuery(involving_user_id=BOB), ["urgent-old", "high"]),
        (TicketQuery(involving_user_id=CAROL), ["urgent-old"]),
        (TicketQuery(involving_user_id=AGENT), []),
        (TicketQuery(assignee_id=AGENT, statuses=frozenset({Status.SOLVED})), ["high"]),
    ],
)
async def test_find_filters_and_sorts_by_urgency_then_age(
    uow_factory: UowFactory, query: TicketQuery, expected: list[str]
) -> None:
    # Insert in an order that matches neither the sort nor the names.
    stored = await add_tickets(uow_factory, *QUEUE.values())
    names = {ticket.id: name for name, ticket in zip(QUEUE, stored, strict=True)}

    async with uow_factory() as uow:
        found = await uow.tickets.find(query)

    assert [names[t.id] for t in found] == expected


async def test_count_by_status_lists_every_status(uow_factory: UowFactory) -> None:
    await add_tickets(uow_factory, *QUEUE.values())

    async with uow_factory() as uow:
        counts = await uow.tickets.count_by_status()

    assert counts == {
        Status.NEW: 2,
        Status.OPEN: 1,
        Status.PENDING: 1,
        Status.SOLVED: 1,
        Status.CLOSED: 0,
    }


# --- due -----------------------------------------------------------------------------------


async def test_due_returns_tickets_whose_deadline_has_come_earliest_first(
    uow_factory: UowFactory,
) -> None:
    late, no_deadline, on_the_dot, early, future = await add_tickets(
        uow_factory,
        make_ticket(next_deadline_at=T0 - timedelta(minutes=5)),
        make_ticket(next_deadline_at=None),
        make_ticket(next_deadline_at=T0.astimezone(CET)),
        make_ticket(next_deadline_at=T0 - timedelta(days=2)),
        make_ticket(next_deadline_at=T0 + timedelta(seconds=1)),
    )

    async with uow_factory() as uow:
        assert await uow.tickets.due(T0) == [early, late, on_the_dot]
        assert await uow.tickets.due(T0, limit=1) == [early]
        assert await uow.tickets.due(T0.astimezone(CET) - timedelta(days=3)) == []


async def test_due_reads_only_the_deadline_index(uow_factory: UowFactory, backend: str) -> None:
    await add_tickets(uow_factory, *(make_ticket(next_deadline_at=T0) for _ in range(3)))
    async with uow_factory() as uow:
        session = uow.session
        if backend == "sqlite":
            plan = await session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM tickets WHERE next_deadline_at <= :t "
                    "ORDER BY next_deadline_at, id LIMIT 500"
                ),
                {"t": "2030-01-01 00:00:00.000000"},
            )
            details = " | ".join(row[-1] for row in plan)
            assert "ix_tickets_next_deadline_at" in details
            assert "TEMP B-TREE" not in details  # no separate sort step
        else:
            # A handful of rows: forbid the plans a tiny table prefers, see if the index serves.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            await session.execute(text("SET LOCAL enable_bitmapscan = off"))
            plan = await session.execute(
                text(
                    "EXPLAIN SELECT * FROM tickets WHERE next_deadline_at <= now() "
                    "ORDER BY next_deadline_at, id LIMIT 500"
                )
            )
            details = " | ".join(row[0] for row in plan)
            assert "ix_tickets_next_deadline_at" in details
            assert "Sort" not in details


# --- row locks -----------------------------------------------------------------------------


async def test_get_for_update_makes_a_second_writer_wait(
    uow_factory: UowFactory, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks: writers serialise on the database lock")
    [ticket] = await add_tickets(uow_factory, make_ticket())
    second_read = asyncio.Event()

    async def second_writer() -> Ticket | None:
        async with uow_factory() as uow:
            second_read.set()
            seen = await uow.tickets.get_for_update(ticket.id)
            await uow.commit()
            return seen

    async with uow_factory() as first:
        locked = await first.tickets.get_for_update(ticket.id)
        assert locked is not None
        waiter = asyncio.create_task(second_writer())
        await second_read.wait()
        await asyncio.sleep(0.2)
        assert not waiter.done()  # blocked on our row lock
        await first.tickets.save(replace(locked, status=Status.OPEN))
        await first.commit()

    seen = await asyncio.wait_for(waiter, timeout=5)
    assert seen is not None
    assert seen.status == Status.OPEN  # it read the committed change, not a stale copy


# --- events --------------------------------------------------------------------------------


async def test_events_come_back_in_time_order_then_insertion_order(
    uow_factory: UowFactory,
) -> None:
    [ticket, other] = await add_tickets(uow_factory, make_ticket(), make_ticket())
    events = [
        TicketEvent(
            ticket.id,
            EventKind.ASSIGNED,
            T0 + timedelta(minutes=5),
            actor_id=AGENT,
            to_value=AGENT,
        ),
        TicketEvent(
            ticket.id,
            EventKind.OPENED,
            T0,
            actor_id=ALICE,
            data={"form": "technical", "n": [1, 2]},
        ),
        TicketEvent(
            ticket.id,
            EventKind.STATUS_CHANGED,
            T0 + timedelta(minutes=5),
            from_value="new",
            to_value="open",
        ),
        TicketEvent(other.id, EventKind.OPENED, T0 + timedelta(minutes=1)),
    ]

    async with uow_factory() as uow:
        stored = [await uow.events.add(e) for e in events]
        await uow.commit()
    async with uow_factory() as uow:
        history = await uow.events.for_ticket(ticket.id)

    assert all(e.id is not None for e in stored)
    assert history == [stored[1], stored[0], stored[2]]
    assert history[0].data == {"form": "technical", "n": [1, 2]}
    assert history[0].at.tzinfo == UTC


async def test_events_between_is_half_open(uow_factory: UowFactory) -> None:
    [ticket] = await add_tickets(uow_factory, make_ticket())
    async with uow_factory() as uow:
        at_start, inside, at_end = [
            await uow.events.add(
                TicketEvent(ticket.id, EventKind.PUBLIC_REPLY, T0 + timedelta(hours=h))
            )
            for h in (0, 1, 24)
        ]
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.events.between(T0, T0 + timedelta(hours=24)) == [at_start, inside]
        assert await uow.events.between(T0.astimezone(CET), T0 + timedelta(days=2)) == [
            at_start,
            inside,
            at_end,
        ]


# --- customers -----------------------------------------------------------------------------


async def test_customers_are_replaced_as_a_whole(uow_factory: UowFactory) -> None:
    first = [
        Customer("Globex", Plan.PREMIUM, ("globex.com",), ("hank",)),
        Customer("Acme", Plan.ENTERPRISE, ("acme.com", "acme.io"), ("alice", "bob")),
    ]
    second = [Customer("Initech", None)]

    async with uow_factory() as uow:
        await uow.customers.replace_all(first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.customers.all() == sorted(first, key=lambda c: c.name)
        await uow.customers.replace_all(second)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.customers.all() == second


# --- claims --------------------------------------------------------------------------------


async def test_the_first_claim_wins(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.claims.claim("sla-warned", "42", "v1") is True
        assert await uow.claims.claim("sla-warned", "42", "v2") is False
        assert await uow.claims.claim("sla-breached", "42") is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.claims.claim("sla-warned", "42") is False
        assert await uow.claims.get("sla-warned", "42") == "v1"
        assert await uow.claims.get("sla-breached", "42") == ""
        assert await uow.claims.get("sla-warned", "43") is None


async def test_a_lost_claim_leaves_the_transaction_usable(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.claims.claim("page", "t1")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.claims.claim("page", "t1") is False
        [ticket] = [await uow.tickets.add(make_ticket())]
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.tickets.get(ticket.id) == ticket


async def test_set_overwrites_and_creates(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.claims.set("cursor", "summary", "2025-03-10")
        await uow.claims.set("cursor", "summary", "2025-03-11")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.claims.get("cursor", "summary") == "2025-03-11"
        assert await uow.claims.claim("cursor", "summary") is False


async def test_a_rolled_back_claim_can_be_claimed_again(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.claims.claim("page", "t2") is True
        await uow.rollback()
        assert await uow.claims.claim("page", "t2") is True
        await uow.commit()


async def test_concurrent_sessions_claim_exactly_once(
    uow_factory: UowFactory, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL concern; SQLite serialises them")
    first_claimed = asyncio.Event()

    async def second() -> bool:
        async with uow_factory() as uow:
            await first_claimed.wait()
            won = await uow.claims.claim("escalation", "t9", "second")  # waits for the first tx
            await uow.commit()
            return won

    waiter = asyncio.create_task(second())
    async with uow_factory() as uow:
        assert await uow.claims.claim("escalation", "t9", "first") is True
        first_claimed.set()
        await asyncio.sleep(0.2)
        assert not waiter.done()  # blocked on our uncommitted row
        await uow.commit()

    assert await asyncio.wait_for(waiter, timeout=5) is False
    async with uow_factory() as uow:
        assert await uow.claims.get("escalation", "t9") == "first"


async def test_many_racing_claims_have_one_winner(uow_factory: UowFactory) -> None:
    async def attempt(n: int) -> bool:
        async with uow_factory() as uow:
            won = await uow.claims.claim("daily-summary", "2025-03-10", str(n))
            await uow.commit()
            return won

    results = await asyncio.gather(*(attempt(n) for n in range(8)))

    assert results.count(True) == 1


# --- unit of work --------------------------------------------------------------------------


async def test_leaving_without_commit_discards_the_work(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        ticket = await uow.tickets.add(make_ticket())

    async with uow_factory() as uow:
        assert await uow.tickets.get(ticket.id) is None


async def test_an_exception_rolls_back(uow_factory: UowFactory) -> None:
    async def claim_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.claims.claim("x", "y")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await claim_then_fail()

    async with uow_factory() as uow:
        assert await uow.claims.get("x", "y") is None


async def test_a_unit_of_work_can_be_entered_again(uow_factory: UowFactory) -> None:
    uow: SqlUnitOfWork = uow_factory()
    async with uow:
        await uow.claims.set("k", "1", "a")
        await uow.commit()
    async with uow:
        assert await uow.claims.get("k", "1") == "a"
