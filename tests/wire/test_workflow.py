"""Working a ticket in chat: buttons, status rules, the customer conversation, notes, CSAT."""

from __future__ import annotations

import aiohttp

from tests.wire.harness import Desk
from tests.wire.workflow_helpers import (
    buttons, card, click, customer_thread, customer_writes, events, open_ticket, staff_thread,
    staff_writes, ticket,
)
from workflows.model import EventKind, Status


async def test_card_shows_the_buttons_that_fit_a_new_ticket(desk: Desk) -> None:
    t = await open_ticket(desk)
    assert buttons(card(desk, t)) == ["Take it", "Assign…", "Reply to customer…", "Priority…",
                                      "Escalate…"]  # escalation (issue 6)


async def test_whole_journey_from_take_to_csat(desk: Desk) -> None:
    t = await open_ticket(desk)
    card_id = t.card_post_id

    result = await click(desk, "sam", card(desk, t), "Take it")
    assert result.status == 200
    t = await ticket(desk, t.id)
    assert t.status is Status.OPEN and t.assignee_id == desk.user("sam").id
    assert "You took" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    after_take = card(desk, t)
    assert after_take["id"] == card_id and after_take["edit_at"] > 0  # edited in place
    assert "Take it" not in buttons(after_take) and "Solved" in buttons(after_take)
    assert len(desk.emu.posts(desk.support.id)) == 1  # no re-post

    await desk.run("sam", f"/ticket reply {t.id} Could you send the server logs?", "customer-support")
    [reply] = customer_thread(desk, t)
    assert "Could you send the server logs?" in reply["message"] and reply["user_id"] == desk.user("supportbot").id

    await customer_writes(desk, t, "Here they are, thanks")
    assert "Here they are" in staff_thread(desk, t)[-1]["message"]

    await click(desk, "sam", card(desk, t), "Pending")
    assert (await ticket(desk, t.id)).status is Status.PENDING

    await customer_writes(desk, t, "Any news?")
    assert (await ticket(desk, t.id)).status is Status.OPEN  # a customer reply sets Open

    await click(desk, "sam", card(desk, t), "Solved")
    t = await ticket(desk, t.id)
    assert t.status is Status.SOLVED and "Solved" not in buttons(card(desk, t))

    desk.clock.advance(hours=24, minutes=1)
    await desk.run_jobs()
    question = customer_thread(desk, t)[-1]
    assert "How would you rate the support you received" in question["message"]
    assert buttons(question) == ["Good, I'm satisfied", "Bad, I'm unsatisfied"]

    desk.clock.advance(hours=24)
    await desk.run_jobs()
    assert (await ticket(desk, t.id)).status is Status.CLOSED
    assert buttons(card(desk, t)) == []

    await click(desk, "alice", question, "Good, I'm satisfied")
    dialog = desk.emu.last_dialog(desk.user("alice"))
    assert dialog["dialog"]["callback_id"] == "csat.comment"
    await desk.emu.submit_dialog(desk.user("alice"), {"comment": "Quick and friendly"})
    await desk.settle()
    ratings = [e for e in await events(desk, t.id) if e.kind is EventKind.CSAT_RATED]
    assert ratings[-1].to_value == "good" and ratings[-1].data.get("text") == "Quick and friendly"
    assert "Quick and friendly" in staff_thread(desk, t)[-1]["message"]


async def test_second_csat_click_updates_the_rating(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Solved")
    desk.clock.advance(hours=25)
    await desk.run_jobs()
    question = customer_thread(desk, t)[-1]
    await click(desk, "alice", question, "Good, I'm satisfied")
    await click(desk, "alice", question, "Bad, I'm unsatisfied")
    ratings = [e.to_value for e in await events(desk, t.id) if e.kind is EventKind.CSAT_RATED]
    assert ratings == ["good", "bad"]
    desk.clock.advance(hours=1)
    await desk.run_jobs()
    asked = [p for p in customer_thread(desk, t) if "How would you rate" in p["message"]]
    assert len(asked) == 1


async def test_customer_file_is_relayed_to_the_staff_thread(desk: Desk) -> None:
    t = await open_ticket(desk)
    file_id = await desk.emu.upload_as(desk.user("alice"), t.customer_channel_id, "server.log", b"ERROR x\n")
    await customer_writes(desk, t, "Log attached", file_ids=(file_id,))
    relay = staff_thread(desk, t)[-1]
    [relayed] = relay["file_ids"]
    assert relayed != file_id
    assert desk.emu.file_bytes(relayed) == b"ERROR x\n"
    assert desk.emu.file_info(relayed)["name"] == "server.log"


async def test_internal_note_never_reaches_the_customer(desk: Desk) -> None:
    t = await open_ticket(desk)
    await staff_writes(desk, t, "Looks like the bleve index is corrupt; do not tell them yet")
    await desk.run("sam", f"/ticket note {t.id} second secret note", "customer-support")
    notes = [e for e in await events(desk, t.id) if e.kind is EventKind.INTERNAL_NOTE]
    assert len(notes) == 2
    everything_alice_sees = desk.emu.dm_posts(desk.user("alice"), desk.user("supportbot"))
    assert not any("bleve" in p["message"] or "secret" in p["message"] for p in everything_alice_sees)
    await desk.run("alice", f"/ticket show {t.id}")
    shown = desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    assert "Search returns nothing" in shown and "secret" not in shown and "note" not in shown


async def test_reply_prefix_in_the_staff_thread_goes_to_the_customer(desk: Desk) -> None:
    t = await open_ticket(desk)
    post = await staff_writes(desk, t, "!reply We are looking into it now.")
    assert "We are looking into it now." in customer_thread(desk, t)[-1]["message"]
    assert [r["emoji_name"] for r in desk.emu.reactions(post["id"])] == ["white_check_mark"]
    replies = [e for e in await events(desk, t.id) if e.kind is EventKind.PUBLIC_REPLY]
    assert len(replies) == 1


async def test_customer_clicking_a_staff_button_is_refused(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "alice", card(desk, t), "Take it")
    assert (await ticket(desk, t.id)).status is Status.NEW
    assert "Only support staff" in desk.emu.ephemerals(desk.user("alice"))[-1]["message"]


async def test_forged_action_context_is_refused(desk: Desk) -> None:
    t = await open_ticket(desk)
    stored = desk.emu.post(t.card_post_id)  # the DB copy: integration URL and signed context
    take = next(a for a in stored["props"]["attachments"][0]["actions"] if a["name"] == "Take it")
    # dave posts his own button pointing at the bot with the real context copied into it
    props = {"attachments": [{"actions": [{"id": "take", "name": "Take it", "type": "button",
                                           "integration": take["integration"]}]}]}
    token = desk.emu.create_token(desk.user("dave"))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        body = {"channel_id": desk.channels["town-square"].id, "message": "click me", "props": props}
        async with http.post(f"{desk.emu.url}/api/v4/posts", json=body) as resp:
            assert resp.status == 201
            own = await resp.json()
    result = await desk.emu.click(desk.user("sam"), own["id"], "take")
    await desk.settle()
    assert result.status == 200
    assert (await ticket(desk, t.id)).status is Status.NEW
    assert "could not be verified" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]


async def test_customer_writing_on_a_closed_ticket_is_offered_a_follow_up(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Solved")
    desk.clock.advance(hours=49)
    await desk.run_jobs()
    assert (await ticket(desk, t.id)).status is Status.CLOSED
    await desk.emu.post_as(desk.user("alice"), t.customer_channel_id, "It broke again",
                           root_id=t.customer_root_id)
    await desk.wait_for(lambda: "is closed" in customer_thread(desk, t)[-1]["message"])
    offer = customer_thread(desk, t)[-1]
    assert buttons(offer) == ["Open a follow-up ticket"]
    await click(desk, "alice", offer, "Open a follow-up ticket")
    dialog = desk.emu.last_dialog(desk.user("alice"))
    assert f"#{t.id}" in dialog["dialog"]["introduction_text"]
    from tests.wire.workflow_helpers import FORM, all_tickets

    await desk.emu.submit_dialog(desk.user("alice"), FORM)
    await desk.settle()
    newest = (await all_tickets(desk))[-1]
    assert newest.follow_up_of == t.id


async def test_solved_ticket_reopens_on_a_customer_reply(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Solved")
    await customer_writes(desk, t, "Actually it is still broken")
    assert (await ticket(desk, t.id)).status is Status.OPEN
    assert any(e.kind is EventKind.REOPENED for e in await events(desk, t.id))
    assert "reopened" in staff_thread(desk, t)[-1]["message"]


async def test_hold_stops_auto_close(desk: Desk) -> None:
    t = await open_ticket(desk)
    await click(desk, "sam", card(desk, t), "Take it")
    await desk.run("sam", f"/ticket hold #{t.id}", "customer-support")
    await click(desk, "sam", card(desk, t), "Solved")
    desk.clock.advance(days=5)
    await desk.run_jobs()
    assert (await ticket(desk, t.id)).status is Status.SOLVED


async def test_staff_commands_give_one_clear_sentence_on_bad_input(desk: Desk) -> None:
    t = await open_ticket(desk)
    cases = {
        f"/ticket status {t.id} solved": "assign it before solving",
        "/ticket show abc": "not a ticket number",
        "/ticket show 999": "no ticket #999",
        f"/ticket assign {t.id} @nobody": "No Mattermost user",
        f"/ticket assign {t.id} @alice": "only be assigned to support staff",
        f"/ticket priority {t.id} critical": "must be one of",
        f"/ticket status {t.id} closed": "must be one of",
        "/ticket assign": "Usage",
    }
    for command, fragment in cases.items():
        await desk.run("sam", command, "customer-support")
        message = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
        assert fragment.lower() in message.lower(), (command, message)


async def test_customer_cannot_see_another_customers_ticket(desk: Desk) -> None:
    t = await open_ticket(desk, user="alice")
    await desk.run("dave", f"/ticket show {t.id}")
    assert desk.emu.ephemerals(desk.user("dave"))[-1]["message"] == "No such ticket, or it isn't yours."
    await desk.run("dave", "/ticket show 424242")
    assert desk.emu.ephemerals(desk.user("dave"))[-1]["message"] == "No such ticket, or it isn't yours."


async def test_lists_for_customers_and_staff(desk: Desk) -> None:
    t1 = await open_ticket(desk, user="alice", priority="low")
    t2 = await open_ticket(desk, user="dave", priority="urgent")
    await desk.run("alice", "/ticket list")
    mine = desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    assert f"#{t1.id}" in mine and f"#{t2.id}" not in mine
    await desk.run("sam", "/ticket list", "customer-support")
    queue = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert queue.index(f"#{t2.id}") < queue.index(f"#{t1.id}")  # urgent first
    await desk.run("sam", "/ticket list urgent", "customer-support")
    urgent = desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert f"#{t2.id}" in urgent and f"#{t1.id}" not in urgent


async def test_cc_user_sees_public_replies_and_can_answer(desk: Desk) -> None:
    t = await open_ticket(desk, cc="@carol")
    await desk.run("sam", f"/ticket reply {t.id} Please restart the job server.", "customer-support")
    carol_dm = desk.emu.dm_posts(desk.user("carol"), desk.user("supportbot"))
    assert any("restart the job server" in p["message"] for p in carol_dm)
    notice = carol_dm[0]
    before = len(staff_thread(desk, t))
    await desk.emu.post_as(desk.user("carol"), notice["channel_id"], "Done, it works", root_id=notice["id"])
    await desk.wait_for(lambda: len(staff_thread(desk, t)) > before)
    assert "Done, it works" in staff_thread(desk, t)[-1]["message"]
    assert "(CC)" in staff_thread(desk, t)[-1]["message"]
