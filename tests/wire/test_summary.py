"""The daily summary on the wire: content, chart, once per slot, restarts, late posts, size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage.models import TicketEventRow, TicketRow
from tests.reliability.helpers import POSTS, fast_retries
from tests.wire.harness import T0, Desk
from tests.wire.workflow_helpers import card, click, open_ticket
from workflows.model import (
    EventKind,
    Form,
    Priority,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)
from workflows.summary import POST_LIMIT

TUE_9 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # the slot after T0 (Monday 10:00)


def standup(desk: Desk) -> list[dict[str, Any]]:
    return desk.emu.posts(desk.channels["support-standup"].id)


def summaries(desk: Desk) -> list[dict[str, Any]]:
    return [p for p in standup(desk) if "summary" in p["message"].lower()]


async def test_summary_content_and_chart_for_a_known_ticket_set(desk: Desk) -> None:
    solved = await open_ticket(desk, subject="Login loops", priority="urgent")
    pending = await open_ticket(desk, subject="Slow search", priority="normal")
    waiting = await open_ticket(desk, "gina", subject="Licence question", priority="low")
    await click(desk, "sam", card(desk, solved), "Take it")
    await click(desk, "sam", card(desk, solved), "Solved")
    await click(desk, "tess", card(desk, pending), "Take it")
    await click(desk, "tess", card(desk, pending), "Pending")

    desk.clock.now = TUE_9
    await desk.run_jobs()

    [post] = summaries(desk)
    message = post["message"]
    assert "Daily summary" in message and "Posted late" not in message
    assert "3 opened · 1 solved · 0 closed · 0 reopened" in message
    assert "Urgent 1" in message and "Normal 1" in message and "Low 1" in message
    assert "Premium 2" in message and "Enterprise 1" in message
    assert "| New | 0 | 0 | 0 | 1 | 1 |" in message
    assert "| Pending | 0 | 0 | 1 | 0 | 1 |" in message
    assert "**Unassigned:** 1" in message
    assert (
        "**Next to breach:** 1" in message and "Licence question · 8h left" in message
    )  # Tue 17:00
    permalink = f"{desk.emu.url}/main/pl/{waiting.card_post_id}"
    assert f"[#{waiting.id}]({permalink})" in message and "Licence question" in message
    assert len(message) < POST_LIMIT

    [file_id] = post["file_ids"]
    info = desk.emu.file_info(file_id)
    assert info["name"].endswith(".png") and info["mime_type"] == "image/png"
    assert desk.emu.file_bytes(file_id).startswith(b"\x89PNG\r\n\x1a\n")


async def test_breached_tickets_are_listed_until_answered(desk: Desk) -> None:
    assert desk.bot is not None and desk.bot.deps is not None
    t = await open_ticket(desk, subject="Server down", priority="urgent")
    await desk.run("sam", f"/ticket take {t.id}", "customer-support")
    desk.clock.advance(hours=2)
    async with desk.bot.deps.uow() as uow:
        await uow.events.add(
            TicketEvent(
                t.id, EventKind.SLA_BREACHED, T0 + timedelta(hours=1), to_value="first_reply"
            )
        )
        await uow.commit()
    await desk.run("sam", "/ticket summary 1d", "customer-support")
    shown = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "**Breached (deadline passed):** 1" in shown and "Server down · overdue 1h · S" in shown
    assert "@sam" not in shown  # display names (mention-proofed), never mentions

    await desk.run("sam", f"/ticket reply {t.id} Looking now", "customer-support")
    await desk.settle()
    await desk.run("sam", "/ticket summary 1d", "customer-support")
    assert (
        "**Breached (deadline passed):** none"
        in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    )


async def test_staff_see_it_ephemerally_customers_are_refused(desk: Desk) -> None:
    await open_ticket(desk)
    desk.clock.advance(minutes=1)
    await desk.run("sam", "/ticket summary 7d", "customer-support")
    shown = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "Support summary" in shown and "1 opened" in shown
    assert summaries(desk) == []

    await desk.run("alice", "/ticket summary")
    assert "Only support staff" in desk.emu.ephemerals(desk.user("alice"))[-1]["message"]


async def test_summary_post_command_posts_to_standup_with_chart(desk: Desk) -> None:
    await open_ticket(desk)
    desk.clock.advance(minutes=1)
    await desk.run("sam", "/ticket summary post 24h", "customer-support")
    await desk.settle()
    [post] = summaries(desk)
    assert "Support summary" in post["message"] and len(post["file_ids"]) == 1


async def test_once_per_slot_across_restarts(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot()  # first start Monday 10:00: Monday's 09:00 slot was never missed
    await desk.run_jobs()
    assert summaries(desk) == []
    await desk.stop_bot()

    desk.clock.now = TUE_9 + timedelta(seconds=30)
    await desk.start_bot()  # the start-up catch-up posts the slot, on time
    assert len(summaries(desk)) == 1 and "Posted late" not in summaries(desk)[0]["message"]
    await desk.run_jobs()  # the cron job and the catch-up find it claimed
    await desk.stop_bot()

    await desk.start_bot()  # a second replica or a restart: still one
    await desk.run_jobs()
    assert len(summaries(desk)) == 1


async def test_missed_slot_is_posted_late_within_grace_only(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot()
    await desk.stop_bot()

    desk.clock.now = TUE_9 + timedelta(hours=2)
    await desk.start_bot()
    [late] = summaries(desk)
    assert "Posted late" in late["message"]
    await desk.stop_bot()

    desk.clock.now = TUE_9 + timedelta(days=1, hours=7)  # Wednesday's slot, 7 h ago: too late
    await desk.start_bot()
    await desk.run_jobs()
    assert len(summaries(desk)) == 1


async def test_a_slot_due_during_an_outage_is_posted_once_when_mattermost_is_back(
    desk: Desk,
) -> None:
    """reliability (issue 8): the slot's claim and its post are stored together; the outbox
    posts it, chart included, once Mattermost accepts posts again (it used to release the
    claim on failure and rebuild on the next run)."""
    desk.clock.now = TUE_9
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run_jobs()  # the cron job and the catch-up: one claim, one queued post
    await desk.run_jobs()
    assert summaries(desk) == []
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        assert await uow.outbox.depth() == 1

    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    [post] = summaries(desk)
    assert "Daily summary" in post["message"] and "Posted late" not in post["message"]
    [file_id] = post["file_ids"]
    assert desk.emu.file_bytes(file_id).startswith(b"\x89PNG\r\n\x1a\n")
    await desk.run_jobs()
    assert len(summaries(desk)) == 1


async def test_a_digest_due_during_an_outage_is_posted_once_when_mattermost_is_back(
    bare_desk: Desk,
) -> None:
    desk = bare_desk
    regions = [
        {"name": "emea", "timezone": "UTC", "hours": "08:00-16:00", "primary": ["sam"]},
        {"name": "amer", "timezone": "UTC", "hours": "16:00-24:00", "primary": ["tess"]},
    ]
    await desk.start_bot(
        summary={"handover_digests": True, "days": ["sat"]}, oncall={"regions": regions}
    )
    desk.clock.now = T0.replace(hour=16, minute=1)
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run_jobs()
    assert [p for p in standup(desk) if "Hand-over digest" in p["message"]] == []
    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    await desk.run_jobs()
    digests = [p for p in standup(desk) if "Hand-over digest" in p["message"]]
    assert len(digests) == 1 and "amer" in digests[0]["message"]


async def test_size_cap_with_many_tickets(desk: Desk) -> None:
    assert desk.bot is not None and desk.bot.deps is not None
    now = desk.clock.now
    rows, events = [], []
    for i in range(3000):
        created = now - timedelta(hours=1 + i % 20)
        t = Ticket(
            None,
            TicketForm(
                Form.TECHNICAL,
                f"Problem number {i} " + "x" * 200,
                "d",
                f"Category {i % 40}",
                list(Priority)[i % 4],
            ),
            Requester(f"u{i}", f"user{i}", "Acme Corp", None),
            [Status.NEW, Status.OPEN, Status.PENDING][i % 3],
            created,
            created - timedelta(days=10 * (i % 3 == 2)),
            next_deadline_at=now + timedelta(minutes=i - 1500),
            card_post_id=f"card{i:022d}",
        )
        rows.append(TicketRow.from_domain(t))
    async with desk.bot.deps.uow() as uow:
        uow.session.add_all(rows)
        await uow.session.flush()
        for r in rows:
            events.append(TicketEventRow(ticket_id=r.id, kind="opened", at=r.created_at, data={}))
        uow.session.add_all(events)
        await uow.commit()

    await desk.run("sam", "/ticket summary post 2d", "customer-support")
    await desk.settle()
    [post] = summaries(desk)
    message = post["message"]
    assert len(message) < POST_LIMIT
    assert "3000 opened" in message and "**Unassigned:** 3000" in message
    assert "- and 2995 more" in message and "by category:" in message and "and 32 more" in message


async def test_handover_digest_per_region(bare_desk: Desk) -> None:
    desk = bare_desk
    regions = [
        {"name": "emea", "timezone": "UTC", "hours": "08:00-16:00", "primary": ["sam"]},
        {"name": "amer", "timezone": "UTC", "hours": "16:00-24:00", "primary": ["tess"]},
        {"name": "apac", "timezone": "UTC", "hours": "00:00-08:00", "primary": ["sam"]},
    ]
    await desk.start_bot(
        summary={"handover_digests": True, "days": ["sat"]}, oncall={"regions": regions}
    )
    desk.clock.now = T0.replace(hour=16, minute=1)
    await desk.run_jobs()
    await desk.run_jobs()
    digests = [p for p in standup(desk) if "Hand-over digest" in p["message"]]
    assert len(digests) == 1 and "amer" in digests[0]["message"]
    assert "Since Mon 2 Mar 08:00" in digests[0]["message"]


async def test_slow_period_metrics_are_left_out_of_the_quick_answer(
    desk: Desk, monkeypatch: Any
) -> None:
    import commands.summary.command as command

    monkeypatch.setattr(command, "QUICK_ANSWER", 0)
    await open_ticket(desk)
    desk.clock.advance(minutes=1)
    await desk.run("sam", "/ticket summary 1d", "customer-support")
    shown = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "1 opened" in shown and "Period metrics left out" in shown


async def test_escalations_pages_and_bad_ratings_from_the_log(desk: Desk) -> None:
    assert desk.bot is not None and desk.bot.deps is not None
    one = await open_ticket(desk, subject="Crash on upload")
    two = await open_ticket(desk, subject="Export hangs")
    K = EventKind
    log = [
        TicketEvent(one.id, K.ESCALATED, T0 + timedelta(minutes=1), to_value="escalated"),
        TicketEvent(
            one.id,
            K.ESCALATION_STAGE,
            T0 + timedelta(minutes=2),
            from_value="escalated",
            to_value="confirmed",
        ),
        TicketEvent(two.id, K.ESCALATED, T0 + timedelta(minutes=3), to_value="escalated"),
        TicketEvent(two.id, K.PAGED, T0 + timedelta(minutes=5)),
        TicketEvent(two.id, K.PAGE_ACKNOWLEDGED, T0 + timedelta(minutes=11)),
        TicketEvent(one.id, K.CSAT_RATED, T0 + timedelta(minutes=20), to_value="good"),
        TicketEvent(
            two.id,
            K.CSAT_RATED,
            T0 + timedelta(minutes=21),
            to_value="bad",
            data={"text": "Nobody called back"},
        ),
    ]
    async with desk.bot.deps.uow() as uow:
        for event in log:
            await uow.events.add(event)
        await uow.commit()
    desk.clock.advance(hours=1)
    await desk.run("sam", "/ticket summary 1d", "customer-support")
    shown = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "**Escalations to SET (open) by stage:** Confirmed 1 · Escalated 1" in shown
    assert "1 fired · 1 acknowledged · median time to acknowledge 6m" in shown
    assert "**CSAT received:** 2 (1 good, 1 bad)" in shown and "CSAT 50%" in shown
    assert f"[#{two.id}](" in shown and "“Nobody called back”" in shown
