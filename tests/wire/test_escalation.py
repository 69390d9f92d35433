"""Escalation to the Sustained Engineering Team: every stage reaches the customer (issue 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.reliability.helpers import POSTS, fast_retries
from tests.wire.harness import Desk, seeded_desk
from tests.wire.workflow_helpers import (
    buttons, card, click, customer_thread, events, open_ticket, staff_thread, ticket,
)
from workflows.model import EventKind, Status

LINK = "https://github.com/mattermost/mattermost/pull/31337"
ESCALATION = {"reason": "Search index is empty after upgrade; reindex did not help",
              "steps": "1. Upgrade to 10.11.2\n2. Search for any word", "impact": "All 400 users"}


async def _set_desk(tmp_path: Path, *, set_members: list[str] | None = None,
                    also_in_engineering: tuple[str, ...] = ()) -> Desk:
    """The seeded desk plus erin, a SET engineer in ~sustained-engineering."""
    d = await seeded_desk(f"sqlite:///{tmp_path / 'desk.db'}")
    erin = d.emu.create_user("erin", email="erin@vendor.test", first_name="Erin")
    d.emu.add_team_member(d.team, erin)
    d.users["erin"] = erin
    engineering = d.channels["sustained-engineering"]
    for name in ("erin", *also_in_engineering):
        d.emu.add_member(engineering, d.users[name])
    overrides: dict[str, Any] = {}
    if set_members is not None:
        overrides["escalation"] = {"set_members": set_members}
    await d.start_bot(**overrides)
    return d


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    d = await _set_desk(tmp_path)
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()


@pytest_asyncio.fixture
async def crowded_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """SET is erin only, tess the desk admin; sam, alice and dave read ~sustained-engineering."""
    d = await _set_desk(tmp_path, set_members=["erin"], also_in_engineering=("sam", "alice", "dave"))
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()


# --- helpers -------------------------------------------------------------------------------------

async def escalate(desk: Desk, t: Any, **changes: str) -> Any:
    await click(desk, "sam", card(desk, t), "Escalate…")
    dialog = desk.emu.last_dialog(desk.user("sam"))
    assert dialog is not None and dialog["dialog"]["callback_id"] == "ticket.escalate"
    result = await desk.emu.submit_dialog(desk.user("sam"), {**ESCALATION, **changes})
    await desk.settle()
    return result


async def escalation(desk: Desk, t: Any) -> Any:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return await uow.escalations.latest_for(t.id)


def set_card(desk: Desk, e: Any) -> dict[str, Any]:
    return desk.emu.post(e.card_post_id)


async def stage(desk: Desk, t: Any, label: str, submission: dict[str, str] | None = None,
                user: str = "erin") -> Any:
    """Click a SET card button, then submit the stage dialog it opened (defaults kept)."""
    before = desk.emu.last_dialog(desk.user(user))
    await click(desk, user, set_card(desk, await escalation(desk, t)), label)
    dialog = desk.emu.last_dialog(desk.user(user))
    assert dialog is not None and dialog is not before
    assert dialog["dialog"]["callback_id"] == "ticket.escalation_stage"
    result = await desk.emu.submit_dialog(desk.user(user), submission or {})
    await desk.settle()
    return result


def field(post: dict[str, Any], title: str) -> str | None:
    fields = post["props"]["attachments"][0].get("fields") or []
    return next((f["value"] for f in fields if f["title"] == title), None)


def last_ephemeral(desk: Desk, user: str) -> str:
    return str(desk.emu.ephemerals(desk.user(user))[-1]["message"])


def stages(evts: list[Any]) -> list[str]:
    return [e.to_value for e in evts if e.kind is EventKind.ESCALATION_STAGE]


# --- the journey ---------------------------------------------------------------------------------

async def test_one_ticket_walks_every_stage_and_the_customer_hears_each(desk: Desk) -> None:
    t = await open_ticket(desk)
    assert "Escalate…" in buttons(card(desk, t))

    assert (await escalate(desk, t, tracker_link=LINK)).body in ({}, None)
    e = await escalation(desk, t)
    assert e.stage.value == "escalated" and e.form.tracker_link == LINK
    posted = set_card(desk, e)
    assert posted["channel_id"] == desk.channels["sustained-engineering"].id
    assert buttons(posted) == ["Confirm product issue", "Not a product issue…"]
    attachment = posted["props"]["attachments"][0]
    assert attachment["title_link"] == f"{desk.emu.url}/main/pl/{t.card_post_id}"
    assert "Search index is empty" in attachment["text"]
    assert field(posted, "Severity").startswith("Major")
    assert field(card(desk, t), "Escalation").startswith("Waiting on SET (escalated)")
    assert "Escalate…" not in buttons(card(desk, t))
    assert "Sustained Engineering Team" in customer_thread(desk, t)[-1]["message"]
    assert "escalated this ticket to SET" in staff_thread(desk, t)[-1]["message"]

    await stage(desk, t, "Confirm product issue", {"detail": LINK})
    assert "confirmed" in customer_thread(desk, t)[-1]["message"]
    assert buttons(set_card(desk, e)) == ["Action plan…", "Not a product issue…"]
    assert set_card(desk, e)["edit_at"] > 0 and field(set_card(desk, e), "PR / issue link") == LINK

    await stage(desk, t, "Action plan…", {"detail": "Rebuild the index during the upgrade"})
    assert "Rebuild the index during the upgrade" in customer_thread(desk, t)[-1]["message"]
    assert field(card(desk, t), "Escalation").startswith("Waiting on SET (action plan)")

    await stage(desk, t, "Fix tested")
    assert "tested internally" in customer_thread(desk, t)[-1]["message"]

    await stage(desk, t, "Fix released…", {"detail": "10.12.1"})
    assert "released in Mattermost 10.12.1" in customer_thread(desk, t)[-1]["message"]

    e = await escalation(desk, t)
    assert e.stage.value == "released" and e.closed_at is not None
    assert buttons(set_card(desk, e)) == []
    assert field(card(desk, t), "Escalation") is None and "Escalate…" in buttons(card(desk, t))
    evts = await events(desk, t.id)
    assert stages(evts) == ["confirmed", "action_plan", "fix_tested", "released"]
    assert [x.kind for x in evts].count(EventKind.ESCALATED) == 1
    assert [x.kind for x in evts].count(EventKind.PUBLIC_REPLY) == 5  # one update per stage
    assert len(customer_thread(desk, t)) == 5
    assert sum("SET: **" in p["message"] for p in staff_thread(desk, t)) == 4


async def test_a_decline_returns_the_ticket_to_support_with_the_reason(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Pending")
    await escalate(desk, t)

    await stage(desk, t, "Not a product issue…",
                {"detail": "Their proxy strips the Authorization header"})

    t = await ticket(desk, t.id)
    assert t.status is Status.OPEN  # back with support, no longer waiting on anyone else
    e = await escalation(desk, t)
    assert e.stage.value == "declined" and e.closed_at is not None
    note = staff_thread(desk, t)[-1]["message"]
    assert "Their proxy strips the Authorization header" in note and "back with support" in note
    assert "Their proxy strips" in customer_thread(desk, t)[-1]["message"]
    assert stages(await events(desk, t.id)) == ["declined"]
    assert "Escalate…" in buttons(card(desk, t)) and buttons(set_card(desk, e)) == []


async def test_a_customer_or_non_set_user_clicking_a_stage_button_is_refused(
        crowded_desk: Desk) -> None:
    desk = crowded_desk
    t = await open_ticket(desk)
    await escalate(desk, t)
    e = await escalation(desk, t)

    for user, refusal in (("sam", "Only the Sustained Engineering Team"),
                          ("alice", "Only the Sustained Engineering Team"),
                          ("dave", "No such ticket, or it isn't yours.")):
        opened = len(desk.emu.dialogs(desk.user(user)))
        await click(desk, user, set_card(desk, e), "Confirm product issue")
        assert last_ephemeral(desk, user).startswith(refusal)
        assert len(desk.emu.dialogs(desk.user(user))) == opened  # no stage dialog
    assert (await escalation(desk, t)).stage.value == "escalated"

    await stage(desk, t, "Confirm product issue", {"detail": LINK})  # erin is SET
    assert (await escalation(desk, t)).stage.value == "confirmed"


async def test_a_forged_stage_dialog_from_a_non_set_user_is_refused(crowded_desk: Desk) -> None:
    desk = crowded_desk
    t = await open_ticket(desk)
    await escalate(desk, t)
    await click(desk, "erin", set_card(desk, await escalation(desk, t)), "Confirm product issue")
    dialog = desk.emu.last_dialog(desk.user("erin"))
    result = await desk.emu.submit_dialog(desk.user("sam"), {"detail": LINK}, dialog=dialog)
    await desk.settle()
    assert result.body.get("error")
    assert (await escalation(desk, t)).stage.value == "escalated"


async def test_only_staff_can_escalate(desk: Desk) -> None:
    t = await open_ticket(desk)
    opened = len(desk.emu.dialogs(desk.user("alice")))
    await desk.run("alice", f"/ticket escalate {t.id}")
    assert last_ephemeral(desk, "alice") == "Only support staff can escalate tickets."
    assert len(desk.emu.dialogs(desk.user("alice"))) == opened
    assert await escalation(desk, t) is None


async def test_a_ticket_is_escalated_once_at_a_time(desk: Desk) -> None:
    t = await open_ticket(desk)
    await escalate(desk, t)
    await desk.run("sam", f"/ticket escalate {t.id}", "customer-support")
    assert "already escalated" in last_ephemeral(desk, "sam")


async def test_a_stage_without_a_customer_update_is_refused_unless_skipped_with_a_reason(
        desk: Desk) -> None:
    t = await open_ticket(desk)
    await escalate(desk, t)
    heard = len(customer_thread(desk, t))

    refused = await stage(desk, t, "Confirm product issue",
                          {"detail": LINK, "customer_update": ""})
    assert "customer_update" in refused.body["errors"]
    assert (await escalation(desk, t)).stage.value == "escalated"

    skipped = await desk.emu.submit_dialog(desk.user("erin"), {
        "detail": LINK, "customer_update": "", "skip_reason": "Customer asked for phone updates"})
    await desk.settle()
    assert skipped.body in ({}, None)
    assert (await escalation(desk, t)).stage.value == "confirmed"
    assert len(customer_thread(desk, t)) == heard  # nothing sent
    assert "skipped: Customer asked for phone updates" in staff_thread(desk, t)[-1]["message"]
    [moved] = [x for x in await events(desk, t.id) if x.kind is EventKind.ESCALATION_STAGE]
    assert moved.data["update"] == "skipped"


async def test_escalated_tickets_show_in_the_queue_and_the_escalation_list(desk: Desk) -> None:
    first = await open_ticket(desk)
    desk.clock.advance(hours=2)
    second = await open_ticket(desk, subject="Login loops forever")
    await escalate(desk, first)
    await escalate(desk, second)
    await stage(desk, first, "Confirm product issue", {"detail": LINK})
    desk.clock.advance(hours=3)

    await desk.run("sam", "/ticket list", "customer-support")
    queue = last_ephemeral(desk, "sam")
    assert "waiting on SET (confirmed)" in queue and "waiting on SET (escalated)" in queue

    await desk.run("erin", "/ticket escalations", "sustained-engineering")
    listed = last_ephemeral(desk, "erin")
    assert listed.index(f"#{second.id}") < listed.index(f"#{first.id}")  # pipeline order
    assert "Confirmed product issue" in listed and "3h ago" in listed

    await desk.run("alice", "/ticket escalations")
    assert "Only support staff and the Sustained Engineering Team" in last_ephemeral(desk, "alice")


async def test_an_escalation_left_silent_gets_the_regular_update_warning(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")  # Acme is Premium: daily regular updates
    await click(desk, "sam", card(desk, t), "Take it")
    await escalate(desk, t)  # the escalation update is the last word to the customer
    await click(desk, "sam", card(desk, t), "Pending")  # Pending, but waiting on SET, not them

    desk.clock.advance(hours=19)  # past 75% of the 24 h regular-update target
    await desk.run_jobs()

    warnings = [p["message"] for p in staff_thread(desk, t) if "Regular update" in p["message"]]
    assert len(warnings) == 1 and ":warning:" in warnings[0]


async def test_without_an_escalation_pending_pauses_the_regular_update_clock(desk: Desk) -> None:
    """The control for the test above: the warning is owed to the escalation, not to the clock."""
    t = await open_ticket(desk, priority="urgent")
    await click(desk, "sam", card(desk, t), "Take it")
    await desk.run("sam", f"/ticket reply {t.id} Could you send the logs?", "customer-support")
    await click(desk, "sam", card(desk, t), "Pending")

    desk.clock.advance(hours=19)
    await desk.run_jobs()

    assert not [p for p in staff_thread(desk, t) if "Regular update" in p["message"]]


# --- reliability (issue 8): nothing of an escalation is lost or doubled when Mattermost fails ---

def set_cards(desk: Desk, t: Any) -> list[dict[str, Any]]:
    """SET card posts about ticket `t` in ~sustained-engineering."""
    return [p for p in desk.emu.posts(desk.channels["sustained-engineering"].id)
            if not p.get("root_id") and p["props"].get("supportdesk_ticket") == t.id]


async def test_an_escalation_during_a_mattermost_outage_is_posted_once_when_it_is_back(
        desk: Desk) -> None:
    t = await open_ticket(desk)
    heard, noted = len(customer_thread(desk, t)), len(staff_thread(desk, t))
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")
    assert (await escalate(desk, t, tracker_link=LINK)).body in ({}, None)
    e = await escalation(desk, t)
    assert e.stage.value == "escalated" and e.card_post_id is None  # stored; its posts wait
    assert set_cards(desk, t) == [] and len(customer_thread(desk, t)) == heard
    await desk.run_jobs()

    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    e = await escalation(desk, t)
    [posted] = set_cards(desk, t)
    assert posted["id"] == e.card_post_id
    assert buttons(posted) == ["Confirm product issue", "Not a product issue…"]
    assert len(customer_thread(desk, t)) == heard + 1
    assert "Sustained Engineering Team" in customer_thread(desk, t)[-1]["message"]
    notes = staff_thread(desk, t)[noted:]
    assert len(notes) == 1 and "escalated this ticket to SET" in notes[0]["message"]
    assert f"/main/pl/{e.card_post_id}" in notes[0]["message"]  # the note links the SET card
    escalated = field(card(desk, await ticket(desk, t.id)), "Escalation")
    assert escalated is not None and f"pl/{e.card_post_id}" in escalated
    await desk.run_jobs()
    assert len(set_cards(desk, t)) == 1 and len(customer_thread(desk, t)) == heard + 1


async def test_a_stage_move_during_an_outage_edits_the_set_card_once_it_is_back(
        desk: Desk) -> None:
    t = await open_ticket(desk)
    await escalate(desk, t)
    e = await escalation(desk, t)
    heard, noted = len(customer_thread(desk, t)), len(staff_thread(desk, t))
    fast_retries(desk)
    desk.emu.faults.fail(POSTS, 503, method="POST")  # new posts
    desk.emu.faults.fail(r"^/api/v4/posts/[a-z0-9]+$", 503, method="PUT")  # and edits
    await stage(desk, t, "Confirm product issue", {"detail": LINK})
    assert (await escalation(desk, t)).stage.value == "confirmed"
    assert buttons(set_card(desk, e)) == ["Confirm product issue", "Not a product issue…"]

    desk.emu.faults.clear()
    desk.clock.advance(minutes=10)
    await desk.run_jobs()
    assert buttons(set_card(desk, e)) == ["Action plan…", "Not a product issue…"]
    assert field(set_card(desk, e), "PR / issue link") == LINK
    assert len(set_cards(desk, t)) == 1
    assert len(customer_thread(desk, t)) == heard + 1
    assert "confirmed" in customer_thread(desk, t)[-1]["message"]
    assert [p["message"].startswith("🛠 SET: **") for p in staff_thread(desk, t)[noted:]] == [True]
