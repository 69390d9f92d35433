"""The fault suite of issue 8 (reliability): each test prints its figure line and asserts it.

Covered here: (1) Mattermost answers 503 to every post during a burst of submissions, (2) the
websocket drops while customers write, (5) the database is unavailable during a submission,
(6) a 429 storm on posts. Elsewhere in this folder: (3) test_kill9.py, (4) test_replicas.py,
(5 on PostgreSQL) test_pg_restart.py, SQLite bursts test_sqlite_burst.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from commands.ports import TicketQuery
from commands import replies
from tests.reliability.helpers import (POSTS, burst, card_counts, fast_retries, root_counts,
                                       submit)
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM, all_tickets, customer_writes, events, staff_thread
from workflows.model import EventKind

BURST = 200


async def _unannounced(desk: Desk) -> int:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return len(await uow.tickets.unannounced(limit=10_000))


async def _announce_all(desk: Desk, rounds: int = 10) -> int:
    """Run the scheduled jobs (the announce job retries) until nothing is left; the rounds used."""
    for n in range(1, rounds + 1):
        desk.clock.advance(minutes=1)
        await desk.run_jobs()
        if not await _unannounced(desk):
            return n
    raise AssertionError(f"{await _unannounced(desk)} ticket(s) still unannounced")


def _duplicates(*counters: dict[int, int]) -> int:
    return sum(max(0, n - 1) for counts in counters for n in counts.values())


async def test_1_posts_answer_503_during_a_burst(desk: Desk) -> None:
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")  # every post, until cleared
    answers = await burst(desk, BURST)
    await desk.wait_for(lambda: not desk.bot.background.tasks, timeout=60)  # type: ignore[union-attr]
    await desk.settle()
    accepted = sum(1 for a in answers if a.body in ({}, None))
    again = sum(a.tries - 1 for a in answers)  # SQLite busy under the burst: "try again", resent
    stored = await all_tickets(desk)
    assert accepted == BURST and len(stored) == BURST
    assert not card_counts(desk) and await _unannounced(desk) == BURST  # nothing got through
    await desk.run_jobs()  # the announce job during the outage: still nothing, nothing lost
    assert not card_counts(desk)

    desk.emu.faults.clear()  # Mattermost is back
    rounds = await _announce_all(desk)
    cards, roots = card_counts(desk), root_counts(desk, "customer_root")
    stored = await all_tickets(desk)
    ids = {t.id for t in stored}
    announced = sum(1 for t in stored if t.card_post_id and t.customer_root_id)
    duplicates = _duplicates(cards, roots)
    print(f"\n[fault 1] posts 503 during a burst: tickets accepted {accepted}, stored {len(stored)}, "
          f"announced {announced} (after {rounds} announce-job run(s)), duplicates {duplicates}; "
          f"'try again' answers resubmitted {again}")
    assert set(cards) == ids and set(roots) == ids
    assert announced == BURST and duplicates == 0
    assert {t.card_post_id for t in stored} == {
        p["id"] for p in desk.emu.posts(desk.support.id) if not p.get("root_id")
        and (p.get("props") or {}).get("supportdesk_ticket") in ids}


async def test_2_websocket_dropped_while_customers_write(desk: Desk) -> None:
    tickets = []
    for user in ("alice", "carol", "dave"):
        await submit(desk, user, f"Gap ticket of {user}")
        await desk.settle()
        tickets.append((user, (await all_tickets(desk))[-1]))
    for user, t in tickets:
        await customer_writes(desk, t, f"before the gap ({user})", user=user)
    await desk.emu.drop_websockets()
    for n in range(2):
        for user, t in tickets:
            await desk.emu.post_as(desk.user(user), t.customer_channel_id, f"during the gap {n}",
                                   root_id=t.customer_root_id)
    written = 2 * len(tickets)

    def relayed() -> int:
        return sum(1 for _, t in tickets for p in staff_thread(desk, t)
                   if "during the gap" in p["message"])

    await desk.wait_for(lambda: relayed() >= written, timeout=20)
    await desk.settle()
    recorded = 0
    for _, t in tickets:
        messages = [e for e in await events(desk, t.id) if e.kind is EventKind.CUSTOMER_MESSAGE]
        recorded += len(messages) - 1  # "before the gap" was seen live
    duplicates = relayed() - written + max(0, recorded - written)
    assert desk.bot is not None and desk.bot._ws is not None
    print(f"\n[fault 2] websocket dropped: tickets {len(tickets)}, messages during the gap "
          f"{written}, relayed {relayed()}, recorded {recorded}, duplicates {duplicates}, "
          f"reconnects {desk.bot._ws.reconnects}")
    assert relayed() == written and recorded == written and duplicates == 0
    assert desk.bot._ws.reconnects >= 1


async def test_5_database_unavailable_during_a_submission(desk: Desk, tmp_path: Path) -> None:
    await desk.run("alice", "/ticket new")
    blocker = sqlite3.connect(tmp_path / "desk.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database past the busy timeout
    try:
        answer = await desk.emu.submit_dialog(desk.user("alice"), FORM)
    finally:
        blocker.rollback()
        blocker.close()
    await desk.settle()
    refused = answer.body.get("error", "") if isinstance(answer.body, dict) else ""
    tickets_during = len(await all_tickets(desk))
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        claims_during = len(await uow.claims.by_kind("intake"))
    # The dialog stayed open with the error: the customer submits the same form again.
    again = await desk.emu.submit_dialog(desk.user("alice"), FORM)
    await desk.settle()
    stored = await all_tickets(desk)
    print(f"\n[fault 5] database locked during a submission: answer {refused!r}; stored during "
          f"the outage {tickets_during} ticket(s), {claims_during} intake claim(s); after 'try "
          f"again': tickets {len(stored)}, announced {sum(1 for t in stored if t.card_post_id)}")
    assert refused == replies.temporarily_unavailable()
    assert tickets_during == 0 and claims_during == 0  # nothing half-stored
    assert again.body in ({}, None)
    assert len(stored) == 1 and stored[0].card_post_id and stored[0].customer_root_id
    assert card_counts(desk) == {stored[0].id: 1}


async def test_6_a_429_storm_on_posts(desk: Desk) -> None:
    storm = 8
    desk.emu.faults.fail(POSTS, 429, method="POST", times=storm, retry_after=1)
    started = time.monotonic()
    answers = await burst(desk, 24)
    await desk.wait_for(lambda: not desk.bot.background.tasks, timeout=30)  # type: ignore[union-attr]
    await desk.settle()
    took = time.monotonic() - started
    left = await _unannounced(desk)  # given up after max_attempts: the announce job's work
    if left:
        await _announce_all(desk)
    stored = await all_tickets(desk)
    cards, roots = card_counts(desk), root_counts(desk, "customer_root")
    ids = {t.id for t in stored}
    answered_429 = storm - (desk.emu.faults._fails[0].times or 0)
    duplicates = _duplicates(cards, roots)
    print(f"\n[fault 6] 429 storm ({answered_429} x Retry-After 1 s): tickets accepted "
          f"{sum(1 for a in answers if a.body in ({}, None))}, announced "
          f"{sum(1 for t in stored if t.card_post_id and t.customer_root_id)}, duplicates "
          f"{duplicates}, left to the announce job {left}, burst took {took:.1f} s")
    assert all(a.body in ({}, None) for a in answers) and len(stored) == 24
    assert answered_429 == storm and took >= 1.0  # the bot waited as told
    assert set(cards) == ids and set(roots) == ids and duplicates == 0


async def test_announce_job_is_idle_when_everything_is_announced(desk: Desk) -> None:
    """A sanity check for the figures above: the job posts nothing on a healthy desk."""
    await submit(desk, "alice", "Healthy")
    await desk.settle()
    before = len(desk.emu.posts(desk.support.id))
    await desk.run_jobs()
    assert len(desk.emu.posts(desk.support.id)) == before
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        assert not await uow.tickets.find(TicketQuery(limit=10)) == []
