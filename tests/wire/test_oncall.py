"""On-call paging through the emulator, with the injected clock: pages, escalation, acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from commands.oncall import paging
from commands.oncall.paging import check_oncall
from tests.reliability.helpers import POSTS, fast_retries
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import (
    buttons, card, click, events, open_ticket, staff_thread, staff_writes, ticket,
)
from workflows.model import EventKind

# sam holds primary and tess secondary, around the clock; lee is the lead (added per test).
ONCALL: dict[str, Any] = {
    "check_interval": "1m", "ack_timeout": "10m", "repeat": 0, "lead": ["lee"],
    "regions": [{"name": "GLOBAL", "timezone": "UTC", "hours": "00:00-24:00",
                 "primary": ["sam"], "secondary": ["tess"]}],
}


async def start(desk: Desk, **oncall: Any) -> None:
    lee = desk.emu.create_user("lee", email="lee@vendor.test")
    desk.emu.add_team_member(desk.team, lee)
    desk.emu.add_member(desk.support, lee)
    desk.users["lee"] = lee
    await desk.start_bot(oncall={**ONCALL, **oncall})


def pages(desk: Desk, user: str) -> list[dict[str, Any]]:
    """The page DMs `user` received from the bot."""
    posts = desk.emu.dm_posts(desk.user("supportbot"), desk.user(user))
    return [p for p in posts if p["props"].get("supportdesk_role") == "page"]


def channel_alerts(desk: Desk) -> list[dict[str, Any]]:
    return [p for p in desk.emu.posts(desk.support.id)
            if p["props"].get("supportdesk_role") == "page_channel"]


async def page_count(desk: Desk, ticket_id: int) -> int:
    return sum(e.kind is EventKind.PAGED for e in await events(desk, ticket_id))


async def test_premium_urgent_is_paged_escalated_and_acknowledged(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="urgent")

    await desk.run_jobs()
    [page] = pages(desk, "sam")
    assert buttons(page) == ["Acknowledge", "View ticket"]
    assert f"{desk.emu.url}/main/pl/{t.card_post_id}" in page["message"]  # View ticket permalink
    fields = {f["title"]: f["value"] for f in page["props"]["attachments"][0]["fields"]}
    assert fields["Priority"] == "Urgent" and fields["Plan"] == "Premium Support"
    [mention] = [p for p in staff_thread(desk, t) if p["props"].get("supportdesk_role") == "page"]
    assert "@sam" in mention["message"]
    assert desk.user("sam").id in desk.emu.notified(mention["id"])  # a real mention
    assert pages(desk, "tess") == []

    desk.clock.advance(minutes=9)
    await desk.run_jobs()
    assert pages(desk, "tess") == []  # not yet: ack_timeout is 10 minutes

    desk.clock.advance(minutes=1)
    await desk.run_jobs()
    [escalated] = pages(desk, "tess")
    assert "secondary" in escalated["message"]
    assert len(pages(desk, "sam")) == 1

    result = await click(desk, "tess", escalated, "Acknowledge")
    assert result.status == 200
    assert "You acknowledged" in desk.emu.ephemerals(desk.user("tess"))[-1]["message"]
    t = await ticket(desk, t.id)
    assert t.assignee_id == desk.user("tess").id  # unassigned: the acknowledger takes it
    kinds = [e.kind for e in await events(desk, t.id)]
    assert kinds.count(EventKind.PAGE_ACKNOWLEDGED) == 1

    desk.clock.advance(hours=2)
    await desk.run_jobs()
    assert len(pages(desk, "sam")) == 1 and len(pages(desk, "tess")) == 1
    assert pages(desk, "lee") == [] and channel_alerts(desk) == []
    assert await page_count(desk, t.id) == 2

    await click(desk, "tess", escalated, "Acknowledge")  # a second click changes nothing
    assert "already acknowledged" in desk.emu.ephemerals(desk.user("tess"))[-1]["message"]

    await staff_writes(desk, t, "!reply We are on it, restarting the cluster now.", user="tess")
    desk.clock.advance(minutes=1)
    await desk.run_jobs()
    await desk.run_jobs()
    kinds = [e.kind for e in await events(desk, t.id)]
    assert kinds.count(EventKind.PAGE_RESOLVED) == 1


async def test_the_chain_ends_with_the_lead_then_the_channel(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="high")
    for _ in range(4):
        await desk.run_jobs()
        desk.clock.advance(minutes=10)
    await desk.run_jobs()
    assert [len(pages(desk, u)) for u in ("sam", "tess", "lee")] == [1, 1, 1]
    [alert] = channel_alerts(desk)
    assert alert["message"].startswith("@channel") and f"#{t.id}" in alert["message"]
    assert await page_count(desk, t.id) == 4


async def test_enterprise_urgent_and_premium_normal_are_not_paged(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    enterprise = await open_ticket(desk, user="gina", priority="urgent")
    normal = await open_ticket(desk, priority="normal")
    await desk.run_jobs()
    desk.clock.advance(minutes=30)
    await desk.run_jobs()
    assert pages(desk, "sam") == [] and pages(desk, "tess") == []
    assert await page_count(desk, enterprise.id) == 0 and await page_count(desk, normal.id) == 0


async def test_a_restart_or_overlapping_checks_never_page_twice(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="urgent")
    assert desk.bot is not None and desk.bot.deps is not None
    deps = desk.bot.deps
    sent = await asyncio.gather(*(check_oncall(deps, desk.clock()) for _ in range(3)))
    await desk.settle()
    assert sum(sent) == 1 and len(pages(desk, "sam")) == 1

    await desk.stop_bot()
    await desk.start_bot(oncall=ONCALL)  # its first run checks again at once
    await desk.run_jobs()
    assert len(pages(desk, "sam")) == 1

    await desk.stop_bot()
    desk.clock.advance(minutes=25)  # the bot was down when the secondary was due
    await desk.start_bot(oncall=ONCALL)
    await desk.run_jobs()
    assert len(pages(desk, "sam")) == 1 and len(pages(desk, "tess")) == 1  # late, but once
    assert await page_count(desk, t.id) == 2


async def test_forged_acknowledge_click_is_refused(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="urgent")
    await desk.run_jobs()
    [page] = pages(desk, "sam")
    stored = desk.emu.post(page["id"])  # the DB copy: integration URL and signed context
    ack = next(a for a in stored["props"]["attachments"][0]["actions"] if a["name"] == "Acknowledge")
    props = {"attachments": [{"actions": [{"id": "ack", "name": "Acknowledge", "type": "button",
                                           "integration": ack["integration"]}]}]}
    token = desk.emu.create_token(desk.user("dave"))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        body = {"channel_id": desk.channels["town-square"].id, "message": "ack", "props": props}
        async with http.post(f"{desk.emu.url}/api/v4/posts", json=body) as resp:
            assert resp.status == 201
            own = await resp.json()
    result = await desk.emu.click(desk.user("dave"), own["id"], "ack")
    await desk.settle()
    assert result.status == 200
    assert "could not be verified" in desk.emu.ephemerals(desk.user("dave"))[-1]["message"]
    assert EventKind.PAGE_ACKNOWLEDGED not in [e.kind for e in await events(desk, t.id)]
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    assert len(pages(desk, "tess")) == 1  # the escalation went on


async def test_ack_command_and_its_errors(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="urgent")
    await desk.run("sam", f"/oncall ack {t.id}", "customer-support")
    assert "no open page" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await desk.run_jobs()
    await desk.run("sam", "/oncall ack nope", "customer-support")
    assert "is not a ticket number" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await desk.run("sam", f"/oncall ack #{t.id}", "customer-support")
    assert "You acknowledged" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert (await ticket(desk, t.id)).assignee_id == desk.user("sam").id
    await desk.run("alice", f"/oncall ack {t.id}")  # the customer's own ticket
    assert "Only the on-call engineer" in desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    await desk.run("dave", f"/oncall ack {t.id}")  # an outsider can't tell the ticket exists
    assert "No such ticket" in desk.emu.ephemerals(desk.user("dave"))[-1]["message"]


async def test_oncall_shows_who_is_on_call_to_staff_only(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    desk.emu.set_timezone(desk.user("sam"), {"useAutomaticTimezone": "false",
                                             "manualTimezone": "Europe/Berlin",
                                             "automaticTimezone": ""})
    await desk.run("sam", "/oncall", "customer-support")
    shown = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "Primary: @sam (GLOBAL)" in shown and "Secondary: @tess (GLOBAL)" in shown
    assert "Lead: @lee" in shown

    await desk.run("alice", "/oncall")
    refused = desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    assert refused == "Only support staff can see who is on call." and "@sam" not in refused

    await desk.run("sam", "/oncall schedule 3", "customer-support")
    schedule = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert "Europe/Berlin" in schedule and "no hand-overs" in schedule
    for bad in ("lots", "²"):  # "²".isdigit() is True, but int("²") raises
        await desk.run("sam", f"/oncall schedule {bad}", "customer-support")
        assert "is not a number of days" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await desk.run("sam", "/oncall help", "customer-support")
    assert "/oncall override" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]


async def test_an_override_changes_who_is_paged(bare_desk: Desk) -> None:
    desk = bare_desk
    await start(desk)
    # T0 is Monday 2 March 2026, 10:00 UTC; sam reads times in UTC (no profile zone)
    await desk.run("sam", "/oncall override @tess 2026-03-02 09:00 2026-03-02T18:00Z primary",
                   "customer-support")
    added = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert added.startswith("Override `1` added: @tess is primary")
    await desk.run("sam", "/oncall overrides", "customer-support")
    assert "`1` @tess: Primary" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await desk.run("sam", "/oncall", "customer-support")
    assert "Primary: @tess" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]

    t = await open_ticket(desk, priority="urgent")
    await desk.run_jobs()
    assert len(pages(desk, "tess")) == 1 and pages(desk, "sam") == []
    assert await page_count(desk, t.id) == 1

    for bad, error in (
        ("/oncall override @tess yesterday 2026-03-03", "is not a time"),
        ("/oncall override @tess 2026-03-03 2026-03-02", "must be after"),
        ("/oncall override @tess 2026-03-01 2026-03-02", "already ended"),
        ("/oncall override @alice 2026-03-03 2026-03-04", "Only support staff can be put on call"),
        ("/oncall override @tess 2026-03-03 2026-03-04 boss", "neither a level nor a region"),
        ("/oncall override tess", "Use `/oncall override"),
        ("/oncall remove 99", "There is no override `99`"),
    ):
        await desk.run("sam", bad, "customer-support")
        assert error in desk.emu.ephemerals(desk.user("sam"))[-1]["message"], bad
    await desk.run("alice", "/oncall override @alice 2026-03-03 2026-03-04")
    assert "Only desk admins" in desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    await desk.run("sam", "/oncall remove 1", "customer-support")
    assert "removed" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await desk.run("sam", "/oncall", "customer-support")
    assert "Primary: @sam" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]


async def test_webhook_gets_trigger_acknowledge_and_resolve_and_failures_do_not_block(
    bare_desk: Desk,
) -> None:
    """A pager that fails gets the event again (the outbox retries it) until it accepts it, in
    order per ticket; meanwhile paging in Mattermost goes on."""
    from aiohttp import web

    desk = bare_desk
    received: list[dict[str, Any]] = []  # the events the pager accepted
    refused: list[dict[str, Any]] = []
    failing = {"on": True}

    async def enqueue(request: web.Request) -> web.Response:
        (refused if failing["on"] else received).append(await request.json())
        return web.json_response({"status": "error"}, status=500 if failing["on"] else 202)

    app = web.Application()
    app.router.add_post("/v2/enqueue", enqueue)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        lee = desk.emu.create_user("lee", email="lee@vendor.test")
        desk.emu.add_team_member(desk.team, lee)
        desk.users["lee"] = lee
        await desk.start_bot(oncall={**ONCALL, "routing_key": "R0UT1NG",
                                     "webhook_url": f"http://127.0.0.1:{port}/v2/enqueue"})
        t = await open_ticket(desk, priority="urgent")
        await desk.run_jobs()  # the pager answers 500: kept for a retry, the page still goes out
        assert len(pages(desk, "sam")) == 1
        await desk.wait_for(lambda: len(refused) >= 1)
        assert received == []
        failing["on"] = False
        desk.clock.advance(minutes=10)
        await desk.run_jobs()  # the escalation is the same incident: no second trigger
        await click(desk, "tess", pages(desk, "tess")[0], "Acknowledge")
        await staff_writes(desk, t, "!reply Fixed by a restart.", user="tess")
        await desk.run_jobs()
        await desk.wait_for(lambda: len(received) == 3)
    finally:
        await runner.cleanup()
    assert [e["event_action"] for e in received] == ["trigger", "acknowledge", "resolve"]
    assert {e["event_action"] for e in refused} == {"trigger"}
    assert {e["dedup_key"] for e in received} == {f"supportdesk-ticket-{t.id}"}
    assert {e["routing_key"] for e in received} == {"R0UT1NG"}
    assert received[0]["payload"]["severity"] == "critical"


async def test_a_gap_in_cover_is_a_start_up_warning(bare_desk: Desk, caplog: Any) -> None:
    desk = bare_desk
    berlin = {"name": "EMEA", "timezone": "Europe/Berlin", "hours": "08:00-16:00",
              "primary": ["sam"]}
    with caplog.at_level("WARNING"):
        await desk.start_bot(oncall={**ONCALL, "regions": [berlin]})
    assert any("no region covers" in r.getMessage() for r in caplog.records)
    await desk.run("sam", "/oncall schedule 1", "customer-support")
    assert "Gaps in cover" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]


def page_mentions(desk: Desk, t: Any, user: str) -> list[dict[str, Any]]:
    return [p for p in staff_thread(desk, t)
            if p["props"].get("supportdesk_role") == "page" and f"@{user}" in p["message"]]


async def test_a_page_during_a_mattermost_outage_is_sent_once_when_it_is_back(
        bare_desk: Desk) -> None:
    """reliability (issue 8): the page's row, its DM and its @mention are stored together."""
    desk = bare_desk
    await start(desk, ack_timeout="30m")  # no second level while we wait
    t = await open_ticket(desk, priority="urgent")
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run_jobs()
    assert pages(desk, "sam") == [] and page_mentions(desk, t, "sam") == []
    assert await page_count(desk, t.id) == 1  # claimed and logged: its messages wait queued
    await desk.run_jobs()  # the check does not page again, the outbox keeps trying

    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    [page] = pages(desk, "sam")
    assert buttons(page) == ["Acknowledge", "View ticket"]
    assert f"{desk.emu.url}/main/pl/{t.card_post_id}" in page["message"]
    assert len(page_mentions(desk, t, "sam")) == 1
    await desk.run_jobs()
    assert len(pages(desk, "sam")) == 1 and len(page_mentions(desk, t, "sam")) == 1
    assert await page_count(desk, t.id) == 1 and pages(desk, "tess") == []


async def test_a_crash_after_the_page_is_stored_still_pages_once(
        bare_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot dies after committing the page and before delivering it: the outbox job sends it."""
    desk = bare_desk
    await start(desk, ack_timeout="30m")
    t = await open_ticket(desk, priority="urgent")
    assert desk.bot is not None and desk.bot.deps is not None
    flush = paging.outbox.flush

    async def dies(*args: Any, **kwargs: Any) -> int:
        raise asyncio.CancelledError  # stands for kill -9 right after the commit

    monkeypatch.setattr(paging.outbox, "flush", dies)
    with pytest.raises(asyncio.CancelledError):
        await check_oncall(desk.bot.deps, desk.clock())
    monkeypatch.setattr(paging.outbox, "flush", flush)
    assert pages(desk, "sam") == [] and await page_count(desk, t.id) == 1

    await desk.run_jobs()  # the next check finds it claimed; the outbox job delivers it
    assert len(pages(desk, "sam")) == 1 and len(page_mentions(desk, t, "sam")) == 1
    assert await page_count(desk, t.id) == 1


async def test_the_channel_alert_and_the_ack_and_resolution_notes_survive_an_outage(
        bare_desk: Desk) -> None:
    """The @channel alert, the acknowledgement and the resolution notes go through the outbox."""
    desk = bare_desk
    await start(desk)
    t = await open_ticket(desk, priority="high")
    for _ in range(3):
        await desk.run_jobs()
        desk.clock.advance(minutes=10)
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run_jobs()  # the last round: @channel, while Mattermost refuses posts
    assert channel_alerts(desk) == [] and await page_count(desk, t.id) == 4
    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    [alert] = channel_alerts(desk)
    assert alert["message"].startswith("@channel") and f"pl/{t.card_post_id}" in alert["message"]

    desk.emu.faults.fail(POSTS, 503, method="POST")
    await desk.run("tess", f"/oncall ack {t.id}", "customer-support")
    assert "You acknowledged" in desk.emu.ephemerals(desk.user("tess"))[-1]["message"]
    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    notes = [p["message"] for p in staff_thread(desk, t)]
    assert sum("acknowledged the page" in n for n in notes) == 1
    assert len(channel_alerts(desk)) == 1

    await staff_writes(desk, t, "!reply Fixed by a restart.", user="tess")
    await desk.settle()
    desk.emu.faults.fail(POSTS, 503, method="POST")
    desk.clock.advance(minutes=1)
    await desk.run_jobs()  # the page is resolved while the note cannot be posted
    assert EventKind.PAGE_RESOLVED in [e.kind for e in await events(desk, t.id)]
    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    await desk.run_jobs()
    notes = [p["message"] for p in staff_thread(desk, t)]
    assert sum("The page is resolved" in n for n in notes) == 1
