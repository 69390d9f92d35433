"""Reliability (issue 8): a ticket's announcement is posted once across retries, crashes and replicas."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.gateway import MattermostGateway
from bot.rest import RetryPolicy
from commands import announce
from commands.reliability import once
from tests.reliability.helpers import POSTS, card_counts, fast_retries, root_counts, submit
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import all_tickets, ticket


async def _unannounced_ticket(desk: Desk) -> int:
    """A stored ticket whose announcing failed (Mattermost refused every post)."""
    fast_retries(desk, RetryPolicy(max_attempts=1))
    desk.emu.faults.fail(POSTS, 503, method="POST")
    answer = await submit(desk, "alice", "Announce me once")
    await desk.settle()
    desk.emu.faults.clear()
    assert answer.body in ({}, None)
    t = (await all_tickets(desk))[-1]
    assert t.card_post_id is None and not card_counts(desk)
    return int(t.id)


async def test_two_replicas_retrying_the_same_ticket_post_one_card(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    other = MattermostGateway(desk.emu.url, desk.token)  # the second replica's own connection
    try:
        replica = dataclasses.replace(desk.bot.deps, gateway=other)
        desk.emu.faults.delay(POSTS, 0.3, method="POST")  # both are in flight at the same time
        results = await asyncio.gather(announce.announce(ticket_id, desk.bot.deps),
                                       announce.announce(ticket_id, replica))
        desk.emu.faults.clear()
        assert card_counts(desk) == {ticket_id: 1}
        assert root_counts(desk, "customer_root") == {ticket_id: 1}
        assert True in results  # one of them finished; the other saw it in progress (or done)
        await desk.run_jobs()  # the announce job finishes whatever the loser left
        assert card_counts(desk) == {ticket_id: 1}
        assert root_counts(desk, "customer_root") == {ticket_id: 1}
        t = await ticket(desk, ticket_id)
        assert t.card_post_id and t.customer_root_id
    finally:
        await other.close()


class Killed(Exception):
    """Stands for kill -9: the process dies after the post and before recording it."""


async def test_a_crash_between_post_and_save_does_not_post_the_card_again(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    record = announce._record

    async def dies_after_posting(t, deps, **changes):  # type: ignore[no-untyped-def]
        raise Killed

    monkeypatch.setattr(announce, "_record", dies_after_posting)
    with pytest.raises(Killed):
        await announce.announce(ticket_id, desk.bot.deps)
    assert card_counts(desk) == {ticket_id: 1}
    posted = next(p for p in desk.emu.posts(desk.support.id) if not p.get("root_id"))
    monkeypatch.setattr(announce, "_record", record)  # "restarted"
    assert await announce.announce(ticket_id, desk.bot.deps)
    t = await ticket(desk, ticket_id)
    assert card_counts(desk) == {ticket_id: 1} and t.card_post_id == posted["id"]
    assert root_counts(desk, "customer_root") == {ticket_id: 1}


async def test_a_sender_that_died_before_posting_is_taken_over_after_the_lease(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:  # a replica claimed the card, then died
        await uow.claims.set(once.KIND, f"{ticket_id}:card", f"{desk.clock().isoformat()}|dead")
        await uow.commit()
    assert not await announce.announce(ticket_id, desk.bot.deps)  # it may still be sending
    assert not card_counts(desk)
    desk.clock.advance(seconds=once.LEASE.total_seconds() + 60)
    assert await announce.announce(ticket_id, desk.bot.deps)
    assert card_counts(desk) == {ticket_id: 1}


async def test_an_ambiguous_failure_is_checked_before_posting_again(desk: Desk) -> None:
    ticket_id = await _unannounced_ticket(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    desk.emu.faults.fail(POSTS, 504, method="POST", times=1)  # a proxy timed out: posted or not?
    assert not await announce.announce(ticket_id, desk.bot.deps)
    async with desk.bot.deps.uow() as uow:
        assert (await uow.claims.get(once.KIND, f"{ticket_id}:card") or "").startswith("released")
    assert await announce.announce(ticket_id, desk.bot.deps)
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}


async def test_cc_notices_are_sent_once_across_replicas(desk: Desk) -> None:
    fast_retries(desk, RetryPolicy(max_attempts=1))
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run("alice", "/ticket new")
    from tests.wire.workflow_helpers import FORM
    answer = await desk.emu.submit_dialog(desk.user("alice"), {**FORM, "cc": "@carol"})
    await desk.settle()
    desk.emu.faults.clear()
    assert answer.body in ({}, None)
    ticket_id = int((await all_tickets(desk))[-1].id)
    assert desk.bot is not None and desk.bot.deps is not None
    other = MattermostGateway(desk.emu.url, desk.token)
    try:
        replica = dataclasses.replace(desk.bot.deps, gateway=other)
        desk.emu.faults.delay(POSTS, 0.2, method="POST")
        await asyncio.gather(announce.announce(ticket_id, desk.bot.deps),
                             announce.announce(ticket_id, replica))
        desk.emu.faults.clear()
        await desk.run_jobs()
    finally:
        await other.close()
    assert card_counts(desk) == {ticket_id: 1}
    assert root_counts(desk, "cc_notice") == {ticket_id: 1}
    assert root_counts(desk, "customer_root") == {ticket_id: 1}
