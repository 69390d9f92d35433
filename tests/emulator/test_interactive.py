"""Dialogs (trigger_id, open, submit) and button/menu actions."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

DIALOG = {"callback_id": "new_ticket", "title": "New ticket", "state": "s1",
          "elements": [{"display_name": "Summary", "name": "summary", "type": "text",
                        "default": ""},
                       {"display_name": "Urgent", "name": "urgent", "type": "bool",
                        "default": "false"}]}


async def _trigger(emu, api, world, fakebot) -> str:
    await api.call("POST", "/commands", {"team_id": world.team.id, "trigger": "ticket",
                                         "method": "P", "url": fakebot.url + "/slash"})
    fakebot.replies["/slash"] = (200, "application/json", "{}")
    await emu.execute_command(world.alice, world.channel.id, "/ticket new")
    return parse_qs(fakebot.requests[-1].raw.decode())["trigger_id"][0]


async def test_open_dialog_and_expiry(emu, api, world, fakebot):
    trigger = await _trigger(emu, api, world, fakebot)
    body = {"trigger_id": trigger, "url": fakebot.url + "/dialog", "dialog": DIALOG}
    status, reply, _ = await api.call("POST", "/actions/dialogs/open", body)
    assert status == 200 and reply == {"status": "OK"}
    status, _, _ = await api.call("POST", "/actions/dialogs/open", body, token=None)
    assert status == 200  # trigger_id alone authorizes; not single-use
    opened = emu.last_dialog(world.alice)
    assert opened["url"] == fakebot.url + "/dialog" and opened["dialog"] == DIALOG
    assert len(emu.dialogs(world.alice)) == 2
    status, err, _ = await api.call("POST", "/actions/dialogs/open", {**body, "url": ""})
    assert status == 400 and err["id"] == "api.context.invalid_body_param.app_error"
    status, err, _ = await api.call("POST", "/actions/dialogs/open",
                                    {**body, "trigger_id": "bm90OnZhbGlk"})
    assert err["id"] == "interactive_message.decode_trigger_id.missing_data"
    emu.clock_offset += 31
    status, err, _ = await api.call("POST", "/actions/dialogs/open", body)
    assert status == 400 and err["id"] == "interactive_message.decode_trigger_id.expired"
    assert "30s" in err["message"]


async def test_tampered_trigger_rejected(emu, api, world, fakebot):
    import base64
    trigger = await _trigger(emu, api, world, fakebot)
    client, user, stamp, sig = base64.b64decode(trigger).decode().split(":")
    forged = base64.b64encode(f"{client}:{world.bob.id}:{stamp}:{sig}".encode()).decode()
    status, err, _ = await api.call("POST", "/actions/dialogs/open", {
        "trigger_id": forged, "url": "http://x/y", "dialog": DIALOG})
    assert err["id"] == "interactive_message.decode_trigger_id.verify_signature_failed"


async def test_submit_dialog(emu, api, world, fakebot):
    trigger = await _trigger(emu, api, world, fakebot)
    await api.call("POST", "/actions/dialogs/open",
                   {"trigger_id": trigger, "url": fakebot.url + "/dialog", "dialog": DIALOG})
    fakebot.replies["/dialog"] = (200, "application/json",
                                  json.dumps({"errors": {"summary": "too short"}}))
    result = await emu.submit_dialog(world.alice, {"summary": "hi"})
    assert result.status == 200 and result.body == {"errors": {"summary": "too short"}}
    assert result.stayed_open
    req = fakebot.requests[-1]
    assert "Authorization" not in req.headers
    sent = json.loads(req.raw)
    assert sent == {"type": "dialog_submission", "callback_id": "new_ticket", "state": "s1",
                    "user_id": world.alice.id, "channel_id": world.channel.id,
                    "team_id": world.team.id, "submission": {"summary": "hi", "urgent": False},
                    "cancelled": False}
    fakebot.replies["/dialog"] = (200, "application/json", "")
    result = await emu.submit_dialog(world.alice, {"summary": "long enough"})
    assert result.status == 200 and result.body == {} and not result.stayed_open
    fakebot.replies["/dialog"] = (500, "application/json", "{}")
    result = await emu.submit_dialog(world.alice, {}, cancelled=True)
    assert result.status == 400
    assert result.body["id"] == "api.post.do_action.action_integration.app_error"
    assert json.loads(fakebot.requests[-1].raw)["submission"] == {}


async def test_submit_route_needs_session(api, world):
    status, body, _ = await api.call("POST", "/actions/dialogs/submit", {
        "url": "http://x/y", "channel_id": world.channel.id}, token=None)
    assert status == 401


async def _button_post(api, world, fakebot, actions):
    props = {"attachments": [{"text": "t", "actions": actions}]}
    _, post, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                   "message": "orig", "props": props})
    return post


async def test_click_update_and_ephemeral(emu, api, world, fakebot):
    post = await _button_post(api, world, fakebot, [
        {"id": "claim", "name": "Claim", "type": "button",
         "integration": {"url": fakebot.url + "/act", "context": {"t": 7}}}])
    fakebot.replies["/act"] = (200, "text/plain", "not json")
    assert (await emu.click(world.alice, post["id"], "claim")).status == 400
    fakebot.replies["/act"] = (200, "application/json", "")
    assert (await emu.click(world.alice, post["id"], "claim")).status == 200
    fakebot.replies["/act"] = (200, "application/json", json.dumps(
        {"update": {"props": {"x": "y", "from_webhook": "false"}}, "ephemeral_text": "done"}))
    result = await emu.click(world.alice, post["id"], "claim")
    assert result.status == 200 and result.body["status"] == "OK"
    assert len(result.body["trigger_id"]) == 26
    sent = json.loads(fakebot.requests[-1].raw)
    assert sent["context"] == {"t": 7} and sent["user_name"] == "alice"
    assert sent["team_domain"] == "main" and sent["type"] == "button"
    assert sent["post_id"] == post["id"] and "Authorization" not in fakebot.requests[-1].headers
    stored = emu.post(post["id"])
    assert stored["message"] == "" and stored["props"] == {"x": "y", "from_webhook": "false"}
    eph = emu.ephemerals(world.alice)[-1]
    assert eph["message"] == "done" and eph["root_id"] == post["id"]
    result = await emu.click(world.alice, post["id"], "missing")
    assert result.status == 404 and result.body["id"] == "api.post.do_action.action_id.app_error"


async def test_select_and_http_route(emu, api, world, fakebot):
    post = await _button_post(api, world, fakebot, [
        {"id": "pick", "name": "Pick", "type": "select", "options": [{"text": "A", "value": "a"}],
         "integration": {"url": fakebot.url + "/act"}}])
    fakebot.replies["/act"] = (200, "application/json", "{}")
    status, body, _ = await api.call("POST", f"/posts/{post['id']}/actions/pick",
                                     {"selected_option": "a"}, token=world.alice_token)
    assert status == 200
    assert json.loads(fakebot.requests[-1].raw)["context"] == {"selected_option": "a"}
    status, body, _ = await api.call("POST", f"/posts/{post['id']}/actions/bad_id", {},
                                     token=world.alice_token)
    assert status == 404  # route regex is [A-Za-z0-9]+
