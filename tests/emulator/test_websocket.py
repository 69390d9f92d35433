"""WebSocket: auth orders, hello, posted events, faults."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest


async def _recv(ws, timeout=2.0):
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def _until(ws, event, timeout=2.0):
    while True:
        frame = await _recv(ws, timeout)
        if frame.get("event") == event:
            return frame


def _ws_url(emu):
    return emu.url.replace("http", "ws") + "/api/v4/websocket"


async def test_challenge_hello_then_ok(emu, world, http):
    async with http.ws_connect(_ws_url(emu)) as ws:
        await ws.send_json({"seq": 1, "action": "authentication_challenge",
                            "data": {"token": world.token}})
        hello = await _recv(ws)
        assert hello["event"] == "hello" and hello["seq"] == 0
        assert hello["broadcast"]["user_id"] == world.bot.id
        assert set(hello["data"]) == {"server_version", "connection_id", "server_hostname"}
        assert set(hello["broadcast"]) == {"omit_users", "user_id", "channel_id", "team_id",
                                           "connection_id", "omit_connection_id"}
        assert await _recv(ws) == {"status": "OK", "seq_reply": 1}
        await ws.send_json({"seq": 2, "action": "ping"})
        pong = await _recv(ws)
        assert pong["seq_reply"] == 2 and pong["data"]["text"] == "pong"


async def test_header_auth_and_posted_events(emu, world, http):
    headers = {"Authorization": f"Bearer {world.token}"}
    async with http.ws_connect(_ws_url(emu), headers=headers) as ws:
        assert (await _recv(ws))["event"] == "hello"
        mine = await emu.post_as(world.bot, world.channel.id, "own post")
        frame = await _until(ws, "posted")
        assert frame["seq"] == 1
        post = json.loads(frame["data"]["post"])
        assert post["id"] == mine["id"] and post["user_id"] == world.bot.id
        assert frame["data"]["channel_name"] == "customer-support"
        assert frame["data"]["sender_name"] == "@supportbot"
        assert frame["broadcast"]["channel_id"] == world.channel.id
        assert "mentions" not in frame["data"]
        await emu.post_as(world.alice, world.channel.id, "hey @supportbot")
        frame = await _until(ws, "posted")
        assert frame["seq"] == 2
        assert json.loads(frame["data"]["mentions"]) == [world.bot.id]
        dm = emu.direct_channel_id(world.alice, world.bot)
        await emu.post_as(world.alice, dm, "psst")
        frame = await _until(ws, "posted")
        assert frame["data"]["team_id"] == "" and frame["data"]["channel_type"] == "D"
        assert frame["data"]["channel_display_name"] == "@alice"


async def test_bad_challenge_closes_without_frame(emu, http):
    async with http.ws_connect(_ws_url(emu)) as ws:
        await ws.send_json({"seq": 1, "action": "authentication_challenge",
                            "data": {"token": "bad"}})
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR,
                            aiohttp.WSMsgType.CLOSE)
        assert ws.close_code in (None, 1006)


async def test_unauthenticated_closed_after_timeout(emu, http):
    async with http.ws_connect(_ws_url(emu)) as ws:
        msg = await asyncio.wait_for(ws.receive(), emu.ws_auth_timeout + 2)
        assert msg.type != aiohttp.WSMsgType.TEXT


async def test_events_for_edit_reaction_ephemeral_dialog(emu, world, http, api, fakebot):
    headers = {"Authorization": f"Bearer {world.alice_token}"}
    async with http.ws_connect(_ws_url(emu), headers=headers) as ws:
        await _until(ws, "hello")
        _, post, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                       "message": "m"})
        await _until(ws, "posted")
        await api.call("PUT", f"/posts/{post['id']}/patch", {"message": "m2"})
        edited = await _until(ws, "post_edited")
        assert json.loads(edited["data"]["post"])["message"] == "m2"
        await api.call("POST", "/reactions", {"user_id": world.bot.id, "post_id": post["id"],
                                              "emoji_name": "eyes"})
        reaction = await _until(ws, "reaction_added")
        assert json.loads(reaction["data"]["reaction"])["emoji_name"] == "eyes"
        await api.call("POST", "/commands", {"team_id": world.team.id, "trigger": "t",
                                             "method": "P", "url": fakebot.url + "/s"})
        fakebot.replies["/s"] = (200, "text/plain", "only you")
        await emu.execute_command(world.alice, world.channel.id, "/t")
        eph = await _until(ws, "ephemeral_message")
        assert json.loads(eph["data"]["post"])["type"] == "system_ephemeral"
        assert eph["broadcast"]["user_id"] == world.alice.id


async def test_drop_and_reconnect_params(emu, world, http):
    headers = {"Authorization": f"Bearer {world.token}"}
    ws = await http.ws_connect(_ws_url(emu), headers=headers)
    hello = await _recv(ws)
    await emu.drop_websockets()
    msg = await asyncio.wait_for(ws.receive(), 2)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    url = _ws_url(emu) + f"?connection_id={hello['data']['connection_id']}&sequence_number=1"
    async with http.ws_connect(url, headers=headers) as ws2:
        fresh = await _recv(ws2)
        assert fresh["event"] == "hello" and fresh["seq"] == 0


@pytest.mark.parametrize("query", ["?connection_id=short&sequence_number=1",
                                   "?connection_id=" + "a" * 26])
async def test_bad_reconnect_params_close(emu, world, http, query):
    headers = {"Authorization": f"Bearer {world.token}"}
    async with http.ws_connect(_ws_url(emu) + query, headers=headers) as ws:
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type != aiohttp.WSMsgType.TEXT


async def test_stop_sends_close_frame(world, http):
    from emulator import Emulator
    emu = Emulator(ping_interval=0.5)
    await emu.start()
    token = emu.create_token(emu.create_user("carol"))
    ws = await http.ws_connect(_ws_url(emu), headers={"Authorization": f"Bearer {token}"})
    await _recv(ws)
    stopping = asyncio.create_task(emu.stop())
    msg = await asyncio.wait_for(ws.receive(), 2)
    await stopping
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 1000
