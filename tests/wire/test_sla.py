"""SLA through the wire: deadlines on tickets, warnings and breaches posted once, the card line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.rest import RetryPolicy
from tests.reliability.helpers import POSTS, fast_retries
from tests.wire.harness import T0, Desk
from tests.wire.workflow_helpers import (
    FORM, all_tickets, card, click, customer_writes, events, open_ticket, staff_thread, ticket,
)
from workflows.model import EventKind, Status


def sla_posts(desk: Desk, t) -> list[str]:  # type: ignore[no-untyped-def]
    return [p["message"] for p in staff_thread(desk, t)
            if str(p["props"].get("supportdesk_role", "")).startswith("sla_")]


def sla_field(desk: Desk, t) -> str | None:  # type: ignore[no-untyped-def]
    fields = card(desk, t)["props"]["attachments"][0]["fields"]
    return next((f["value"] for f in fields if f["title"] == "SLA"), None)


async def test_premium_urgent_warning_then_breach_each_posted_once_across_restarts(
    bare_desk: Desk,
) -> None:
    desk = bare_desk
    await desk.start_bot()
    t = await open_ticket(desk, priority="urgent")
    assert t.next_deadline_at == T0 + timedelta(minutes=45)  # 75% of the 1 h first-reply budget
    assert sla_field(desk, t) == "First reply due in 1h"
    await click(desk, "sam", card(desk, t), "Take it")

    desk.clock.advance(minutes=44)
    await desk.run_jobs()
    assert sla_posts(desk, t) == []

    desk.clock.advance(minutes=2)  # T0 + 46m: past the warning instant
    await desk.run_jobs()
    await desk.run_jobs()
    [warning] = sla_posts(desk, t)
    assert "@sam" in warning and "**First reply** on #1 is due in 14m" in warning
    assert (await ticket(desk, t.id)).next_deadline_at == T0 + timedelta(hours=1)
    assert sla_field(desk, await ticket(desk, t.id)) == "First reply due in 14m ⚠"

    await desk.stop_bot()
    await desk.start_bot()
    await desk.run_jobs()
    assert len(sla_posts(desk, t)) == 1

    desk.clock.advance(minutes=15)  # T0 + 61m: breached
    await desk.run_jobs()
    await desk.stop_bot()
    await desk.start_bot()
    desk.clock.advance(minutes=5)
    await desk.run_jobs()
    await desk.run_jobs()
    posts = sla_posts(desk, t)
    assert len(posts) == 2 and "@sam" in posts[1] and "was breached at Mon 11:00 UTC" in posts[1]
    kinds = [e.kind for e in await events(desk, t.id)]
    assert kinds.count(EventKind.SLA_WARNED) == 1 and kinds.count(EventKind.SLA_BREACHED) == 1
    stored = await ticket(desk, t.id)
    assert stored.next_deadline_at is None  # nothing else runs until someone replies
    assert sla_field(desk, stored).startswith("First reply breached")


async def test_unassigned_ticket_warning_says_so(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")
    desk.clock.advance(minutes=50)
    await desk.run_jobs()
    [warning] = sla_posts(desk, t)
    assert "@here (unassigned)" in warning


async def test_public_reply_stops_the_first_reply_clock(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")
    desk.clock.advance(minutes=30)
    await desk.run("sam", f"/ticket reply {t.id} Looking at it now", "customer-support")
    await desk.settle()
    stored = await ticket(desk, t.id)
    # the first reply is met; the daily regular-update clock starts (warning at 18 h)
    assert stored.next_deadline_at == T0 + timedelta(minutes=30, hours=18)
    desk.clock.advance(hours=3)
    await desk.run_jobs()
    assert sla_posts(desk, t) == []
    assert sla_field(desk, await ticket(desk, t.id)) == "Regular update due in 1d"


async def test_pending_pauses_the_next_reply_clock(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")
    await click(desk, "sam", card(desk, t), "Take it")
    desk.clock.advance(minutes=10)
    await desk.run("sam", f"/ticket reply {t.id} Please send logs", "customer-support")
    desk.clock.advance(minutes=10)
    await customer_writes(desk, t, "Still broken")  # T0+20m: next reply due within 2 h
    assert (await ticket(desk, t.id)).next_deadline_at == T0 + timedelta(minutes=110)

    desk.clock.advance(minutes=30)  # T0+50m: 30 m of the 2 h used
    await click(desk, "sam", card(desk, t), "Pending")
    stored = await ticket(desk, t.id)
    assert stored.status is Status.PENDING and stored.next_deadline_at is None

    desk.clock.advance(hours=5, minutes=10)  # T0+6h: would long be breached if it ran
    await desk.run_jobs()
    assert sla_posts(desk, t) == []

    await customer_writes(desk, t, "Here are the logs")  # Open again: the clock resumes
    stored = await ticket(desk, t.id)
    assert stored.status is Status.OPEN
    assert stored.next_deadline_at == T0 + timedelta(hours=7)  # 60 m more to the 90 m warning


async def test_requester_business_hours_follow_their_profile_zone(desk: Desk) -> None:
    desk.emu.set_timezone(desk.user("carol"), {"useAutomaticTimezone": "false",
                                               "manualTimezone": "Asia/Tokyo"})
    t = await open_ticket(desk, "carol", priority="normal")  # Premium Normal: 8 business hours
    # Mon 10:00 UTC is 19:00 in Tokyo: the clock starts Tue 09:00 JST (00:00 UTC); 6 h warning
    assert t.next_deadline_at == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)


async def test_stats_for_a_known_data_set(desk: Desk) -> None:
    a = await open_ticket(desk, "alice", priority="urgent", subject="Premium urgent one")
    b = await open_ticket(desk, "gina", priority="high", subject="Enterprise high one")
    c = await open_ticket(desk, "carol", priority="normal", subject="Never answered")
    d = await open_ticket(desk, "dave", priority="low", subject="No plan at all")
    await click(desk, "sam", card(desk, a), "Take it")
    await click(desk, "tess", card(desk, b), "Take it")
    desk.clock.advance(minutes=30)
    await desk.run("sam", f"/ticket reply {a.id} Fixed by restarting", "customer-support")
    desk.clock.advance(minutes=30)
    await desk.run("sam", f"/ticket reply {d.id} Try this", "customer-support")
    desk.clock.advance(minutes=30)
    await click(desk, "sam", card(desk, a), "Solved")  # T0+1h30m
    desk.clock.advance(minutes=30)
    await desk.run("tess", f"/ticket reply {b.id} On it", "customer-support")  # T0+2h
    desk.clock.advance(hours=24)  # Tue 12:00: c's 8 business hours ran out Tue 10:00
    await desk.run_jobs()
    question = [p for p in desk.emu.posts(a.customer_channel_id, root_id=a.customer_root_id)
                if "How would you rate" in p["message"]][0]
    await click(desk, "alice", question, "Good, I'm satisfied")
    desk.clock.advance(minutes=1)

    await desk.run("sam", "/ticket stats 7d", "customer-support")
    out = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "Opened: **4** · Solved: **1** · CSAT: **100% (1 good, 0 bad)**" in out
    assert "| First reply | 3 | 1h | 1h 48m |" in out  # 30m, 1h, 2h
    assert "| **All** | 2/3 (67%) | — | 1/1 (100%) |" in out
    assert "| Premium Urgent | 1/1 (100%) | — | 1/1 (100%) |" in out
    assert "| Premium Normal | 0/1 (0%) | — | — |" in out
    assert "| Enterprise High | 1/1 (100%) | — | — |" in out
    assert "am (@\u200bsam) | 1 | 1 | 30m | 2/2 (100%) |" in out  # names never mention
    assert "| _unassigned_ | 2 | 0 | 1h | 0/1 (0%) |" in out
    assert len(out) < 16383

    await desk.run("alice", "/ticket stats")
    assert "Only support staff" in desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    await desk.run("sam", "/ticket stats fortnight", "customer-support")
    assert "Usage: `/ticket stats" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]


def _mattermost_refuses_posts(desk: Desk) -> None:
    """Every new post fails (503) and the REST client does not retry it: the outbox must."""
    fast_retries(desk, RetryPolicy(max_attempts=1))
    desk.emu.faults.fail(POSTS, 503, method="POST")


async def test_a_notice_mattermost_failed_to_take_is_delivered_once_it_is_back(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")
    assert desk.bot is not None and desk.bot.jobs is not None
    desk.clock.advance(minutes=50)
    _mattermost_refuses_posts(desk)
    assert await desk.bot.jobs.run("sla-check") == 1  # queued and logged in one transaction
    await desk.settle()
    assert sla_posts(desk, t) == []
    assert (await ticket(desk, t.id)).next_deadline_at == T0 + timedelta(hours=1)  # the breach
    assert await desk.bot.jobs.run("sla-check") == 0  # owed no more: never queued twice
    await desk.run_jobs()
    assert sla_posts(desk, t) == []

    desk.emu.faults.clear()
    desk.clock.advance(seconds=30)  # past the outbox's retry time
    await desk.run_jobs()
    [warning] = sla_posts(desk, t)
    assert "@here (unassigned)" in warning and "is due in 10m" in warning  # as of the check
    await desk.run_jobs()
    assert len(sla_posts(desk, t)) == 1
    kinds = [e.kind for e in await events(desk, t.id)]
    assert kinds.count(EventKind.SLA_WARNED) == 1


async def test_a_notice_for_a_ticket_whose_card_is_not_posted_yet_follows_the_card(
    desk: Desk,
) -> None:
    assert desk.bot is not None and desk.bot.jobs is not None
    _mattermost_refuses_posts(desk)  # Mattermost is away from intake on
    await desk.run("alice", "/ticket new")
    answer = await desk.emu.submit_dialog(desk.user("alice"), {**FORM, "priority": "urgent"})
    assert answer.body in ({}, None)
    await desk.settle()
    t = (await all_tickets(desk))[-1]
    assert t.card_post_id is None
    desk.clock.advance(minutes=50)
    assert await desk.bot.jobs.run("sla-check") == 1
    await desk.settle()
    assert desk.emu.posts(desk.support.id) == []

    desk.emu.faults.clear()
    desk.clock.advance(seconds=30)
    await desk.run_jobs()
    stored = await ticket(desk, t.id)
    assert stored.card_post_id is not None
    [warning] = sla_posts(desk, stored)  # in the card's thread
    assert "**First reply** on #1 is due in 10m" in warning
    assert sla_field(desk, stored) == "First reply due in 9m ⚠"
