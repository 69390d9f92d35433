"""Authorisation: roles x entry points, from the permissions matrix (workflows/permissions.py).

Each role runs every staff action through each entry point (slash subcommand, card button, the
small dialogs' submissions) on a fresh ticket: staff succeed; everyone else is refused with the
matrix's sentence, and nothing changes. An outsider is told only "no such ticket, or not yours".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.security.conftest import Raw
from tests.security.helpers import assert_unchanged, sign, snapshot
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import card, open_ticket, ticket
from workflows.model import Priority, Status
from workflows.permissions import NOT_FOUND_OR_NOT_YOURS

# role -> the user who holds it on tickets opened by alice with carol in CC
ROLES = {"requester": "alice", "cc": "carol", "staff": "sam", "outsider": "dave"}

# slash subcommand -> (template, the matrix's refusal for a ticket party)
SLASH: dict[str, tuple[str, str]] = {
    "take": ("take {id}", "Only support staff can take tickets."),
    "assign": ("assign {id} @tess", "Only support staff can assign tickets."),
    "status": ("status {id} pending", "Only support staff can change a ticket's status."),
    "priority": ("priority {id} urgent", "Only support staff can change a ticket's priority."),
    "reply": ("reply {id} hello from the desk", "Only support staff can reply to the customer."),
    "note": ("note {id} internal thought", "Only support staff can add internal notes."),
    "hold": ("hold {id} on", "Only support staff can put a ticket on hold."),
}

# card button -> the refusal for a ticket party (buttons that open dialogs refuse before opening)
BUTTONS: dict[str, str] = {
    "take": "Only support staff can take tickets.",
    "assign": "Only support staff can assign tickets.",
    "reply": "Only support staff can reply to the customer.",
    "priority": "Only support staff can change a ticket's priority.",
}

# dialog callback -> (state purpose, submission, refusal field)
DIALOGS: dict[str, tuple[str, dict[str, Any], str]] = {
    "ticket.reply": ("dialog:reply", {"message": "hello"}, "message"),
    "ticket.priority": ("dialog:priority", {"priority": "urgent"}, "priority"),
    "ticket.assign": ("dialog:assign", {"assignee": "<sam>"}, "assignee"),
}


def _expected(role: str, party_sentence: str) -> str | None:
    if role == "staff":
        return None
    return NOT_FOUND_OR_NOT_YOURS if role == "outsider" else party_sentence


async def _fresh(desk: Desk) -> Any:
    return await open_ticket(desk, cc="carol")


def _channel_for(role: str) -> str:
    return "customer-support" if role == "staff" else "town-square"


@pytest.mark.parametrize("role", list(ROLES))
async def test_slash_subcommands_follow_the_matrix(desk: Desk, role: str) -> None:
    user = ROLES[role]
    for name, (template, party_sentence) in SLASH.items():
        t = await _fresh(desk)
        before = await snapshot(desk)
        result = await desk.run(user, f"/ticket {template.format(id=t.id)}", _channel_for(role))
        assert result.status == 200, name
        await desk.settle()
        said = desk.emu.ephemerals(desk.user(user))[-1]["message"]
        expected = _expected(role, party_sentence)
        if expected is None:  # authorised: any answer but a permission refusal
            assert not said.startswith(("Only ", NOT_FOUND_OR_NOT_YOURS)), (name, said)
        else:
            assert said == expected, (role, name, said)
            await assert_unchanged(desk, before)


@pytest.mark.parametrize("role", list(ROLES))
async def test_card_buttons_follow_the_matrix(desk: Desk, raw: Raw, role: str) -> None:
    """Clicks are sent raw (non-staff can't see the support channel; the bot must not rely on it)."""
    user = ROLES[role]
    for name, party_sentence in BUTTONS.items():
        t = await _fresh(desk)
        stored = desk.emu.store.posts[t.card_post_id]
        context = next(a["integration"]["context"] for att in stored["props"]["attachments"]
                       for a in att["actions"] if a["id"] == name)
        before = await snapshot(desk)
        status, body = await raw("/mattermost/action", json={
            "user_id": desk.user(user).id, "post_id": t.card_post_id, "trigger_id": "t",
            "type": "button", "context": context})
        assert status == 200
        expected = _expected(role, party_sentence)
        if expected is None:
            continue  # dialog buttons need a real trigger: covered by the wire journeys
        assert body.get("ephemeral_text") == expected, (role, name, body)
        await assert_unchanged(desk, before)


@pytest.mark.parametrize("role", list(ROLES))
async def test_dialog_submissions_recheck_the_matrix(desk: Desk, raw: Raw, role: str) -> None:
    """A state issued to someone who has since lost the role (or forged with a leaked key) is
    not enough: the submission is authorised again when it arrives."""
    user = ROLES[role]
    for callback, (purpose, submission, field) in DIALOGS.items():
        t = await _fresh(desk)
        values = {k: (desk.user("sam").id if v == "<sam>" else v) for k, v in submission.items()}
        state = sign(desk, purpose, {"u": desk.user(user).id, "t": t.id})
        before = await snapshot(desk)
        status, body = await raw("/mattermost/dialog", json={
            "type": "dialog_submission", "callback_id": callback, "state": state,
            "user_id": desk.user(user).id, "channel_id": desk.support.id,
            "submission": values, "cancelled": False})
        assert status == 200
        if role == "staff":
            assert body == {}, (callback, body)
            continue
        assert set(body) == {"errors"} and field in body["errors"], (role, callback, body)
        expected = NOT_FOUND_OR_NOT_YOURS if role == "outsider" else body["errors"][field]
        assert body["errors"][field] == expected
        assert body["errors"][field].startswith(("Only support staff", "No such ticket"))
        await assert_unchanged(desk, before)


async def test_staff_changes_land(desk: Desk) -> None:
    """The positive side of the table, checked on the ticket itself."""
    t = await _fresh(desk)
    await desk.run("sam", f"/ticket take {t.id}", "customer-support")
    await desk.run("sam", f"/ticket priority {t.id} urgent", "customer-support")
    await desk.run("sam", f"/ticket status {t.id} pending", "customer-support")
    now = await ticket(desk, t.id)
    assert (now.status, now.priority, now.assignee_id) == (
        Status.PENDING, Priority.URGENT, desk.user("sam").id)


async def test_outsider_cannot_tell_which_ticket_ids_exist(desk: Desk) -> None:
    t = await _fresh(desk)
    answers = []
    for ticket_id in (t.id, t.id + 1000):
        for template, _ in SLASH.values():
            await desk.run("dave", f"/ticket {template.format(id=ticket_id)}")
            answers.append(desk.emu.ephemerals(desk.user("dave"))[-1]["message"])
        await desk.run("dave", f"/ticket show {ticket_id}")
        answers.append(desk.emu.ephemerals(desk.user("dave"))[-1]["message"])
    assert set(answers) == {NOT_FOUND_OR_NOT_YOURS}


async def test_assign_only_to_staff_even_for_staff(desk: Desk) -> None:
    t = await _fresh(desk)
    before = await snapshot(desk)
    await desk.run("sam", f"/ticket assign {t.id} @dave", "customer-support")
    assert "only be assigned to support staff" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await assert_unchanged(desk, before)
    assert card(desk, t)["id"] == t.card_post_id


async def test_thread_messages_follow_the_matrix(desk: Desk) -> None:
    """Websocket posts are authentic, but the author may still lack the role: a non-staff author in
    a staff thread (e.g. a guest added to the channel while staff are configured by name) and a
    non-party in a customer thread change nothing."""
    from commands import threads

    t = await _fresh(desk)
    assert desk.bot is not None and desk.bot.deps is not None
    before = await snapshot(desk)
    dave = desk.user("dave").id
    await threads.on_posted({"id": "f" * 26, "user_id": dave, "channel_id": desk.support.id,
                             "root_id": t.card_post_id, "message": "!reply @all you are hacked"},
                            "O", desk.bot.deps)
    # not staff by name (the desk's staff are the channel's members, and dave isn't one)
    await threads.on_posted({"id": "g" * 26, "user_id": dave, "channel_id": t.customer_channel_id,
                             "root_id": t.customer_root_id, "message": "let me in"},
                            "D", desk.bot.deps)
    await assert_unchanged(desk, before)
