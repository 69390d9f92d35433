"""Reliability (issue 8): the outbox delivers each message once, in order, across retries,
crashes and replicas (the ticket's announcement is the example: card, DM root, CC notice)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.gateway import MattermostGateway
from bot.rest import RetryPolicy
from commands import announce, outbox
from tests.reliability.helpers import POSTS, card_counts, fast_retries, root_counts, submit
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM, all_tickets, ticket
from workflows.outbox import LEASE, ticket_lane


async def _unannounced_ticket(desk: Desk, **form: str) -> int:
    """A stored ticket whose announcement is queued but not delivered (every post refused)."""
    fast_retries(desk, RetryPolicy(max_attempts=1))
    desk.emu.faults.fail(POSTS, 503, method="POST")
    if form:
        await desk.run("alice", "/ticket new")
        answer = await desk.emu.submit_dialog(desk.user("alice"), {**FORM, **form})
    else:
        answer = await submit(desk, "alice", "Announce me once")
    await desk.settle()
    desk.emu.faults.clear()
    assert answer.body in ({}, None)  # accepted: the customer was told it is filed
    t = (await all_tickets(desk))[-1]
    assert t.card_post_id is None and not card_counts(desk)
    return int(t.id)


async def _pending(desk: Desk) -> int:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return await uow.outbox.depth()


async def test_an_accepted_ticket_is_announced_once_mattermost_is_back(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert await _pending(desk) == 2  # the card and the requester's thread root wait
    desk.clock.advance(seconds=30)
    await desk.run_jobs()
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}
    assert await _pending(desk) == 0
    t = await ticket(desk, ticket_id)
    assert t.card_post_id and t.customer_root_id


def _replica(desk: Desk, gateway: MattermostGateway):  # type: ignore[no-untyped-def]
    assert desk.bot is not None and desk.bot.deps is not None
    return dataclasses.replace(desk.bot.deps, gateway=gateway, instance="replica-2")


async def test_two_replicas_delivering_the_same_ticket_post_one_card(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk, cc="@carol")
    assert desk.bot is not None and desk.bot.deps is not None
    desk.clock.advance(seconds=30)
    other = MattermostGateway(desk.emu.url, desk.token)  # the second replica's own connection
    try:
        desk.emu.faults.delay(POSTS, 0.2, method="POST")  # both are in flight at the same time
        await asyncio.gather(outbox.flush(desk.bot.deps), outbox.flush(_replica(desk, other)))
        desk.emu.faults.clear()
    finally:
        await other.close()
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}
    assert root_counts(desk, "cc_notice") == {ticket_id: 1}
    assert await _pending(desk) == 0


class Killed(BaseException):
    """Stands for kill -9: the process dies after the post and before recording it."""


async def test_a_crash_between_post_and_record_does_not_post_again(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    desk.clock.advance(seconds=30)
    finish = outbox._finish

    async def dies_after_posting(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Killed

    monkeypatch.setattr(outbox, "_finish", dies_after_posting)
    with pytest.raises(Killed):
        await outbox.flush(desk.bot.deps, [ticket_lane(ticket_id)])
    assert card_counts(desk) == {ticket_id: 1}
    posted = next(p for p in desk.emu.posts(desk.support.id) if not p.get("root_id"))
    monkeypatch.setattr(outbox, "_finish", finish)
    # "restarted": on SQLite nobody else can hold a lease, so start-up gives them all back
    await outbox.release_leases(desk.bot.deps, everyone=True)
    assert await announce.announce(ticket_id, desk.bot.deps)
    t = await ticket(desk, ticket_id)
    assert card_counts(desk) == {ticket_id: 1} and t.card_post_id == posted["id"]
    assert root_counts(desk, "customer_root") == {ticket_id: 1}


async def test_a_replica_that_died_holding_a_lease_is_taken_over_after_it(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    desk.clock.advance(seconds=30)
    now = desk.clock()
    async with desk.bot.deps.uow() as uow:  # another replica leased the card, then died
        taken = await uow.outbox.lease_heads(now=now, until=now + LEASE, holder="dead", limit=10)
        await uow.commit()
    assert [m.message.key for m in taken] == [f"t{ticket_id}:card"]
    assert await outbox.flush(desk.bot.deps) == 0  # it may still be sending: hands off
    assert not card_counts(desk)
    desk.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await outbox.flush(desk.bot.deps) == 2
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}


async def test_an_ambiguous_failure_is_checked_before_posting_again(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    desk.clock.advance(seconds=30)
    desk.emu.faults.fail(POSTS, 504, method="POST", times=1)  # a proxy timed out: posted or not?
    await outbox.flush(desk.bot.deps)
    assert not card_counts(desk)  # backing off
    desk.clock.advance(seconds=10)
    await outbox.flush(desk.bot.deps)  # looks for the post first, finds none, posts
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}


async def test_messages_of_a_ticket_go_out_in_the_order_they_were_queued(desk: Desk) -> None:
    """A reply written while the card is still queued waits for it, then lands in its thread."""
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    t = await ticket(desk, ticket_id)
    from commands import conversation, messages

    async def note(text: str) -> None:
        deps = desk.bot.deps
        assert deps is not None
        async with deps.uow() as uow:
            await outbox.queue(deps, uow, conversation.staff_note(
                t, text, role="note", key=messages.unique(f"t{ticket_id}:note")))
            await uow.commit()
        await outbox.flush(deps, [ticket_lane(ticket_id)])

    fast_retries(desk, RetryPolicy(max_attempts=1))
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await note("first note")
    await note("second note")
    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    card = (await ticket(desk, ticket_id)).card_post_id
    thread = [p["message"] for p in desk.emu.posts(desk.support.id) if p.get("root_id") == card]
    assert thread == ["first note", "second note"]


async def test_a_message_mattermost_refuses_for_good_does_not_block_the_ticket(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    desk.clock.advance(seconds=30)
    desk.emu.faults.fail(POSTS, 400, method="POST", times=1)  # the card is refused (say, too long)
    await outbox.flush(desk.bot.deps)
    assert root_counts(desk, "customer_root") == {ticket_id: 1}  # the lane moved on
    assert await _pending(desk) == 0
