"""Forged callbacks: Mattermost authenticates slash commands only; dialogs and clicks are ours to verify.

Each case asserts the refusal AND that nothing changed (no ticket, no event, no post, no dialog).
"""

from __future__ import annotations

from typing import Any

from commands import replies
from commands.signing import BadSignature, Signer
from emulator.posting import create_post
from tests.security.conftest import Raw
from tests.security.helpers import assert_unchanged, sign, snapshot
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM, card, open_ticket, ticket
from workflows.model import Status

COMMAND = "/mattermost/command"
DIALOG = "/mattermost/dialog"
ACTION = "/mattermost/action"


def _command_form(desk: Desk, user: str, text: str, token: str) -> dict[str, str]:
    return {"token": token, "team_id": desk.team.id, "channel_id": desk.channels["town-square"].id,
            "user_id": desk.user(user).id, "user_name": user, "command": "/ticket", "text": text,
            "trigger_id": "x"}


def _integration(desk: Desk, post_id: str, label: str) -> dict[str, Any]:
    stored = desk.emu.store.posts[post_id]
    for att in stored["props"]["attachments"]:
        for action in att.get("actions") or []:
            if action["name"] == label:
                return dict(action["integration"])
    raise AssertionError(label)


# --- slash commands: the token --------------------------------------------------------------

async def test_command_without_token_is_401_and_changes_nothing(desk: Desk, raw: Raw) -> None:
    t = await open_ticket(desk)
    before = await snapshot(desk)
    status, body = await raw(COMMAND, data=_command_form(desk, "sam", f"status {t.id} solved", ""))
    assert (status, body) == (401, {"text": "unauthorized"})
    await assert_unchanged(desk, before)


async def test_command_with_wrong_token_is_401_in_body_and_header(desk: Desk, raw: Raw) -> None:
    t = await open_ticket(desk)
    before = await snapshot(desk)
    real = desk.bot.command_tokens["ticket"]  # type: ignore[union-attr]
    forged = real[:-1] + ("a" if real[-1] != "a" else "b")
    status, _ = await raw(COMMAND, data=_command_form(desk, "sam", f"take {t.id}", forged))
    assert status == 401
    status, _ = await raw(COMMAND, data=_command_form(desk, "sam", f"take {t.id}", ""),
                          headers={"Authorization": f"Token {forged}"})
    assert status == 401
    await assert_unchanged(desk, before)


async def test_command_for_an_unregistered_trigger_is_401(desk: Desk, raw: Raw) -> None:
    real = desk.bot.command_tokens["ticket"]  # type: ignore[union-attr]
    form = {**_command_form(desk, "sam", "list", real), "command": "/admin"}
    status, _ = await raw(COMMAND, data=form)
    assert status == 401


# --- dialogs: the signed state ------------------------------------------------------------------

async def test_dialog_with_forged_state_is_refused(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    before = await snapshot(desk)
    result = await desk.emu.submit_dialog(desk.user("alice"), FORM, state="eyJ4IjoxfQ.forged")
    assert result.body == {"error": replies.STATE_REFUSED}
    await assert_unchanged(desk, before)


async def test_dialog_state_issued_to_another_user_is_refused(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    alices = desk.emu.last_dialog(desk.user("alice"))
    before = await snapshot(desk)
    result = await desk.emu.submit_dialog(desk.user("dave"), FORM, dialog=alices)
    assert result.body == {"error": replies.STATE_REFUSED}
    await assert_unchanged(desk, before)


async def test_expired_dialog_state_is_refused(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    desk.clock.advance(days=1, seconds=1)
    before = await snapshot(desk)
    result = await desk.emu.submit_dialog(desk.user("alice"), FORM)
    assert result.body == {"error": replies.STATE_REFUSED}
    await assert_unchanged(desk, before)


async def test_state_signed_for_another_purpose_is_refused(desk: Desk, raw: Raw) -> None:
    t = await open_ticket(desk)
    before = await snapshot(desk)
    button_sig = sign(desk, "action:reply", {"t": t.id, "u": desk.user("sam").id})
    for callback in ("ticket.reply", "ticket.intake", "csat.comment", "ticket.assign"):
        status, body = await raw(DIALOG, json={
            "type": "dialog_submission", "callback_id": callback, "state": button_sig,
            "user_id": desk.user("sam").id, "channel_id": desk.support.id,
            "submission": {"message": "hi", "assignee": desk.user("sam").id}, "cancelled": False})
        assert (status, body) == (200, {"error": replies.STATE_REFUSED})
    await assert_unchanged(desk, before)


async def test_raw_reply_dialog_for_another_ticket_is_refused(desk: Desk, raw: Raw) -> None:
    """A state for ticket A can't be replayed by another user, and states don't cross users."""
    t = await open_ticket(desk)
    state = sign(desk, "dialog:reply", {"u": desk.user("sam").id, "t": t.id})
    before = await snapshot(desk)
    status, body = await raw(DIALOG, json={
        "callback_id": "ticket.reply", "state": state, "user_id": desk.user("dave").id,
        "submission": {"message": "@all pwned"}})
    assert (status, body) == (200, {"error": replies.STATE_REFUSED})
    await assert_unchanged(desk, before)


async def test_unknown_callback_id_is_refused(desk: Desk, raw: Raw) -> None:
    before = await snapshot(desk)
    status, body = await raw(DIALOG, json={"callback_id": "admin.drop_tables", "state": "",
                                           "user_id": desk.user("alice").id})
    assert (status, body) == (200, {"error": replies.STATE_REFUSED})
    await assert_unchanged(desk, before)


# --- buttons: the bot's own post, and a signed context -------------------------------------------

async def test_real_context_on_a_post_the_bot_did_not_make_is_refused(desk: Desk) -> None:
    """Anyone can copy a card's button (context and all) into their own post and click it."""
    t = await open_ticket(desk)
    integration = _integration(desk, t.card_post_id, "Take it")
    forged = create_post(desk.emu, desk.user("tess"), {
        "channel_id": desk.support.id, "message": "totally the card",
        "props": {"attachments": [{"text": "", "actions": [
            {"id": "take", "type": "button", "name": "Take it", "integration": integration}]}]}})
    before = await snapshot(desk)
    result = await desk.emu.click(desk.user("sam"), forged["id"], "take")
    assert result.status == 200
    assert desk.emu.ephemerals(desk.user("sam"))[-1]["message"] == replies.ACTION_REFUSED
    await assert_unchanged(desk, before)
    assert (await ticket(desk, t.id)).assignee_id is None


async def test_tampered_context_is_refused(desk: Desk, raw: Raw) -> None:
    t = await open_ticket(desk)
    take = _integration(desk, t.card_post_id, "Take it")["context"]
    body_b64, mac = take["sig"].split(".")
    cases = [
        {"action": "solved", "sig": take["sig"]},                       # sig of another action
        {"action": "take", "sig": body_b64 + "." + mac[::-1]},          # altered MAC
        {"action": "take", "sig": body_b64[:-2] + "AA." + mac},         # altered payload
        {"action": "take", "sig": ""},                                   # unsigned
        {"action": "take"},                                              # no sig at all
        {"action": "nosuchaction", "sig": take["sig"]},
    ]
    before = await snapshot(desk)
    for context in cases:
        status, body = await raw(ACTION, json={
            "user_id": desk.user("sam").id, "post_id": t.card_post_id, "trigger_id": "x",
            "type": "button", "context": context})
        assert status == 200
        assert body == {"ephemeral_text": replies.ACTION_REFUSED, "skip_slack_parsing": True}
    await assert_unchanged(desk, before)


async def test_signed_context_replayed_against_another_post_is_refused(desk: Desk, raw: Raw) -> None:
    """The follow-up button is bound to a post id when it carries one; cards are bound by ticket."""
    t1 = await open_ticket(desk)
    t2 = await open_ticket(desk, subject="Another problem")
    take_t1 = _integration(desk, t1.card_post_id, "Take it")["context"]
    before = await snapshot(desk)
    status, body = await raw(ACTION, json={  # t1's signed button clicked "on" t2's card
        "user_id": desk.user("sam").id, "post_id": t2.card_post_id, "context": take_t1})
    assert status == 200
    # the context names t1, so t1 — not t2 — is what the click may act on; t2 is untouched
    assert (await ticket(desk, t2.id)).status is Status.NEW
    assert before.tickets[1] == (await ticket(desk, t2.id))


async def test_expired_button_context_is_refused(desk: Desk, raw: Raw) -> None:
    t = await open_ticket(desk)
    sig = sign(desk, "action:take", {"t": t.id}, seconds=10)
    desk.clock.advance(seconds=11)
    before = await snapshot(desk)
    status, body = await raw(ACTION, json={"user_id": desk.user("sam").id,
                                           "post_id": t.card_post_id,
                                           "context": {"action": "take", "sig": sig}})
    assert body["ephemeral_text"] == replies.ACTION_REFUSED
    await assert_unchanged(desk, before)


async def test_button_meant_for_the_requester_refuses_anyone_else(desk: Desk) -> None:
    """CSAT buttons are signed for the requester; a CC or staff member clicking them changes nothing."""
    t = await open_ticket(desk)
    from tests.wire.workflow_helpers import click, customer_thread

    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Solved")
    desk.clock.advance(hours=25)
    await desk.run_jobs()
    question = customer_thread(desk, t)[-1]
    # put sam in the DM channel? He can't read alice's DM: Mattermost refuses the click itself.
    result = await desk.emu.click(desk.user("sam"), question["id"], "csatgood")
    assert result.status == 403


# --- signing keys ----------------------------------------------------------------------------

def test_previous_key_still_verifies_after_rotation_and_unknown_keys_do_not() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 2, tzinfo=UTC)
    old, new, stranger = Signer(b"k" * 32), Signer(b"n" * 32, previous_key=b"k" * 32), Signer(b"s" * 32)
    token = old.sign("intake", {"u": "a"}, now=now, ttl=timedelta(hours=1))
    assert new.verify("intake", token, now=now) == {"u": "a"}
    try:
        Signer(b"n" * 32).verify("intake", token, now=now)
    except BadSignature:
        pass
    else:
        raise AssertionError("a token signed with a retired key verified")
    forged = stranger.sign("intake", {"u": "a"}, now=now, ttl=timedelta(hours=1))
    try:
        new.verify("intake", forged, now=now)
    except BadSignature:
        return
    raise AssertionError("a token signed with an unknown key verified")
