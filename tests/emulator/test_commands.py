"""Slash commands: registration rules and the round trip to the command URL."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, parse_qsl


async def _register(api, world, url, trigger="ticket", method="P"):
    status, cmd, _ = await api.call("POST", "/commands", {
        "team_id": world.team.id, "trigger": trigger, "method": method, "url": url})
    assert status == 201, cmd
    return cmd


async def test_create_duplicate_update_keeps_token(api, world, emu):
    cmd = await _register(api, world, "http://127.0.0.1:9/cmd", trigger="Ticket")
    assert cmd["trigger"] == "ticket" and len(cmd["token"]) == 26
    assert cmd["creator_id"] == world.bot.id
    status, body, _ = await api.call("POST", "/commands", {
        "team_id": world.team.id, "trigger": "ticket", "method": "P", "url": "http://x/y"})
    assert status == 400 and body["id"] == "api.command.duplicate_trigger.app_error"
    status, body, _ = await api.call("POST", "/commands", {
        "team_id": world.team.id, "trigger": "t2", "method": "X", "url": "http://x/y"})
    assert body["id"] == "model.command.is_valid.method.app_error"
    status, body, _ = await api.call("POST", "/commands", {
        "team_id": world.team.id, "trigger": "t3", "method": "P", "url": "ftp://x"})
    assert body["id"] == "model.command.is_valid.url_http.app_error"
    status, body, _ = await api.call("PUT", f"/commands/{cmd['id']}",
                                     {**cmd, "id": "a" * 26})
    assert status == 400
    status, updated, _ = await api.call("PUT", f"/commands/{cmd['id']}",
                                        {**cmd, "url": "http://127.0.0.1:9/new", "token": "z"})
    assert status == 200 and updated["token"] == cmd["token"]
    assert updated["url"] == "http://127.0.0.1:9/new"
    _, listed, _ = await api.call("GET", f"/commands?team_id={world.team.id}&custom_only=true")
    assert listed[0]["token"] == cmd["token"]
    assert emu.commands(world.team)[0]["id"] == cmd["id"]
    status, body, _ = await api.call("DELETE", f"/commands/{cmd['id']}")
    assert status == 200 and body == {"status": "OK"} and emu.commands(world.team) == []


async def test_create_needs_team_admin(api, world):
    status, body, _ = await api.call("POST", "/commands", {
        "team_id": world.team.id, "trigger": "x", "method": "P", "url": "http://x/y"},
        token=world.alice_token)
    assert status == 403 and body["id"] == "api.context.permissions.app_error"


async def test_round_trip_form_and_ephemeral(emu, api, world, fakebot):
    cmd = await _register(api, world, fakebot.url + "/slash")
    fakebot.replies["/slash"] = (200, "application/json", json.dumps(
        {"response_type": "ephemeral", "text": "Got <!channel>"}))
    result = await emu.execute_command(world.alice, world.channel.id, "/Ticket  new @bob x")
    assert result.status == 200
    assert result.body["text"] == "Got <!channel>" and len(result.body["trigger_id"]) == 26
    req = fakebot.requests[-1]
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.headers["Authorization"] == f"Token {cmd['token']}"
    assert req.headers["User-Agent"] == "Mattermost-Bot/1.1"
    assert req.headers["Accept"] == "application/json"
    form = parse_qs(req.raw.decode(), keep_blank_values=True)
    assert form["text"] == [" new @bob x"] and form["command"] == ["/ticket"]
    assert form["team_domain"] == ["main"] and form["channel_name"] == ["customer-support"]
    assert form["user_name"] == ["alice"] and form["token"] == [cmd["token"]]
    assert form["user_mentions"] == ["bob"] and form["user_mentions_ids"] == [world.bob.id]
    assert form["response_url"][0].startswith(emu.url + "/hooks/commands/")
    keys = [k for k, _ in parse_qsl(req.raw.decode(), keep_blank_values=True)]
    assert keys == sorted(keys)
    eph = emu.ephemerals(world.alice, world.channel.id)
    assert eph[-1]["message"] == "Got @channel"
    assert emu.posts(world.channel.id) == []


async def test_in_channel_post_belongs_to_user(emu, api, world, fakebot):
    await _register(api, world, fakebot.url + "/slash")
    fakebot.replies["/slash"] = (200, "application/json", json.dumps(
        {"response_type": "in_channel", "text": "<!channel> hi", "skip_slack_parsing": True}))
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.status == 200
    post = emu.posts(world.channel.id)[-1]
    assert post["user_id"] == world.alice.id and post["props"]["from_webhook"] == "true"
    assert post["message"] == "<!channel> hi"


async def test_non_200_plain_text_and_unknown(emu, api, world, fakebot):
    await _register(api, world, fakebot.url + "/slash")
    fakebot.replies["/slash"] = (201, "application/json", "{}")
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.status == 500
    assert result.body["id"] == "api.command.execute_command.failed_resp.app_error"
    fakebot.replies["/slash"] = (200, "text/plain", "plain words")
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.status == 200 and result.body["response_type"] == ""
    assert emu.ephemerals(world.alice)[-1]["message"] == "plain words"
    fakebot.replies["/slash"] = (200, "application/json", "")
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.body["id"] == "api.command.execute_command.failed.app_error"
    result = await emu.execute_command(world.alice, world.channel.id, "/nope")
    assert result.status == 404
    assert result.body["id"] == "api.command.execute_command.not_found.app_error"


async def test_connection_failure_is_500(emu, api, world):
    await _register(api, world, "http://127.0.0.1:9/closed")
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.status == 500
    assert result.body["id"] == "api.command.execute_command.failed.app_error"


async def test_get_method_uses_query(emu, api, world, fakebot):
    await _register(api, world, fakebot.url + "/g?x=1", method="G")
    await emu.execute_command(world.alice, world.channel.id, "/ticket a b")
    req = fakebot.requests[-1]
    assert req.method == "GET" and req.raw == b"" and "Content-Type" not in req.headers
    query = parse_qs(req.query)
    assert query["x"] == ["1"] and query["text"] == ["a b"]


async def test_execute_via_http_and_response_url(emu, api, world, fakebot, http):
    await _register(api, world, fakebot.url + "/slash")
    fakebot.replies["/slash"] = (200, "application/json", "{}")
    status, body, _ = await api.call("POST", "/commands/execute", {
        "channel_id": world.channel.id, "team_id": world.team.id, "command": "/ticket go"},
        token=world.alice_token)
    assert status == 200 and body["response_type"] == ""
    assert emu.ephemerals(world.alice) == []
    hook = parse_qs(fakebot.requests[-1].raw.decode())["response_url"][0]
    async with http.post(hook, json={"response_type": "in_channel", "text": "later"}) as resp:
        assert resp.status == 200 and await resp.text() == "ok"
    assert emu.posts(world.channel.id)[-1]["message"] == "later"


async def test_timeout_and_membership(emu, api, world, fakebot):
    await _register(api, world, fakebot.url + "/slow")
    fakebot.delays["/slow"] = 1.0
    emu.integration_timeout = 0.2
    result = await emu.execute_command(world.alice, world.channel.id, "/ticket")
    assert result.status == 500
    assert result.body["id"] == "api.command.execute_command.failed.app_error"
    other = emu.create_channel(world.team, "other", members=[world.bob])
    result = await emu.execute_command(world.alice, other.id, "/ticket")
    assert result.status == 403


async def test_dm_uses_current_team(emu, api, world, fakebot):
    await _register(api, world, fakebot.url + "/slash")
    dm = emu.direct_channel_id(world.alice, world.bot)
    result = await emu.execute_command(world.alice, dm, "/ticket")
    assert result.status == 200
    form = parse_qs(fakebot.requests[-1].raw.decode())
    assert form["channel_name"] == ["__".join(sorted([world.alice.id, world.bot.id]))]
    assert form["team_id"] == [world.team.id]
