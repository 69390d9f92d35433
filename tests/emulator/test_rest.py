"""REST behaviour of the emulator over real HTTP."""

from __future__ import annotations

import aiohttp

ERROR_KEYS = {"id", "message", "detailed_error", "request_id", "status_code"}


async def test_missing_and_bad_token_give_401(api):
    for token in (None, "nope"):
        status, body, headers = await api.call("GET", "/users/me", token=token)
        assert status == 401
        assert set(body) == ERROR_KEYS
        assert body["id"] == "api.context.session_expired.app_error"
        assert body["detailed_error"] == "" and body["status_code"] == 401
        assert headers["Content-Type"] == "application/json"
        assert body["request_id"] == headers["X-Request-ID"]
        assert headers["X-Version-ID"]


async def test_token_scheme_and_me(api, world):
    status, me, headers = await api.call("GET", "/users/me")
    assert status == 200 and me["id"] == world.bot.id and me["is_bot"] is True
    assert headers["Expires"] == "0"
    async with api.session.get(api.base + "/users/me",
                               headers={"Authorization": f"Token {world.token}"}) as resp:
        assert resp.status == 200


async def test_unknown_path_is_json_404(api):
    status, body, _ = await api.call("GET", "/nothing/here")
    assert status == 404 and body["id"] == "api.context.404.app_error"


async def test_oversized_body_413(api, world):
    status, body, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                        "message": "x" * 300001})
    assert status == 413


async def test_user_lookups(api, world):
    assert (await api.call("GET", f"/users/{world.alice.id}"))[1]["username"] == "alice"
    assert (await api.call("GET", "/users/username/alice"))[1]["id"] == world.alice.id
    assert (await api.call("GET", "/users/email/alice@acme.com"))[1]["id"] == world.alice.id
    status, body, _ = await api.call("GET", "/users/username/zed")
    assert status == 404 and body["id"] == "app.user.get_by_username.app_error"
    _, users, _ = await api.call("POST", "/users/ids", [world.alice.id, "x" * 26])
    assert [u["id"] for u in users] == [world.alice.id]
    _, users, _ = await api.call("POST", "/users/usernames", ["bob", "ghost"])
    assert [u["username"] for u in users] == ["bob"]


async def test_team_and_channel_lookups(api, world):
    assert (await api.call("GET", "/teams/name/main"))[1]["id"] == world.team.id
    assert (await api.call("GET", f"/teams/{world.team.id}"))[1]["name"] == "main"
    status, body, _ = await api.call("GET", "/teams/name/none")
    assert status == 404 and body["id"] == "app.team.get_by_name.missing.app_error"
    path = f"/teams/{world.team.id}/channels/name/customer-support"
    assert (await api.call("GET", path))[1]["id"] == world.channel.id
    path = "/teams/name/main/channels/name/customer-support"
    assert (await api.call("GET", path))[1]["id"] == world.channel.id
    status, body, _ = await api.call("GET", "/teams/name/main/channels/name/nope")
    assert status == 404 and body["id"] == "app.channel.get_by_name.missing.app_error"
    _, members, _ = await api.call("GET", f"/channels/{world.channel.id}/members?per_page=2")
    assert len(members) == 2
    status, member, _ = await api.call(
        "GET", f"/channels/{world.channel.id}/members/{world.alice.id}")
    assert status == 200 and member["user_id"] == world.alice.id


async def test_private_channel_hidden_by_name(emu, api, world):
    emu.create_channel(world.team, "secret", type="P", members=[world.alice])
    status, body, _ = await api.call("GET", "/teams/name/main/channels/name/secret")
    assert status == 404 and body["id"] == "app.channel.get_by_name.missing.app_error"


async def test_direct_channel(emu, api, world):
    status, ch, _ = await api.call("POST", "/channels/direct", [world.bot.id, world.alice.id])
    assert status == 201 and ch["type"] == "D"
    assert ch["name"] == "__".join(sorted([world.bot.id, world.alice.id]))
    status, again, _ = await api.call("POST", "/channels/direct",
                                      [world.alice.id, world.bot.id])
    assert status == 201 and again["id"] == ch["id"]
    assert emu.direct_channel_id(world.alice, world.bot) == ch["id"]


async def test_create_post_rules(emu, api, world):
    status, post, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                        "message": "hello"})
    assert status == 201 and post["props"]["from_bot"] == "true"
    assert post["user_id"] == world.bot.id
    status, reply, _ = await api.call("POST", "/posts", {
        "channel_id": world.channel.id, "message": "r", "root_id": post["id"]})
    assert status == 201
    status, body, _ = await api.call("POST", "/posts", {
        "channel_id": world.channel.id, "message": "r2", "root_id": reply["id"]})
    assert status == 400 and body["id"] == "api.post.create_post.root_id.app_error"
    status, body, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                        "message": "é" * 16384})
    assert status == 400 and body["id"] == "model.post.is_valid.message_length.app_error"
    status, _, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                     "message": "é" * 16383})
    assert status == 201
    other = emu.create_channel(world.team, "elsewhere", members=[world.alice])
    status, body, _ = await api.call("POST", "/posts", {"channel_id": other.id, "message": "x"})
    assert status == 403 and body["id"] == "api.context.permissions.app_error"
    status, body, _ = await api.call("POST", "/posts", {
        "channel_id": world.channel.id, "message": "x", "file_ids": ["a"] * 11})
    assert status == 400 and body["id"] == "model.post.is_valid.file_ids.app_error"


async def test_integration_stripped_and_action_ids_filled(emu, api, world):
    props = {"attachments": [{"text": "t", "actions": [
        {"name": "Go", "type": "button", "integration": {"url": "http://x/y"}}]}]}
    status, post, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                        "message": "m", "props": props})
    action = post["props"]["attachments"][0]["actions"][0]
    assert "integration" not in action and len(action["id"]) == 26
    stored = emu.post(post["id"])["props"]["attachments"][0]["actions"][0]
    assert stored["integration"]["url"] == "http://x/y"
    _, fetched, _ = await api.call("GET", f"/posts/{post['id']}")
    assert "integration" not in fetched["props"]["attachments"][0]["actions"][0]


async def test_put_patch_thread_and_since(emu, api, world):
    _, root, _ = await api.call("POST", "/posts", {"channel_id": world.channel.id,
                                                   "message": "root", "props": {"a": 1}})
    await emu.post_as(world.alice, world.channel.id, "reply", root_id=root["id"])
    status, body, _ = await api.call("PUT", f"/posts/{root['id']}", {"id": "x", "message": "n"})
    assert status == 400
    status, put, _ = await api.call("PUT", f"/posts/{root['id']}",
                                    {"id": root["id"], "message": "new", "props": {"b": 2}})
    assert status == 200 and put["props"] == {"b": 2} and put["edit_at"] > 0
    status, patched, _ = await api.call("PUT", f"/posts/{root['id']}/patch", {"message": "p"})
    assert patched["message"] == "p" and patched["props"] == {"b": 2}
    _, thread, _ = await api.call("GET", f"/posts/{root['id']}/thread")
    assert len(thread["order"]) == 2 and thread["order"][-1] == root["id"]
    assert set(thread) >= {"order", "posts", "next_post_id", "prev_post_id", "has_next"}
    _, since, _ = await api.call("GET", f"/channels/{world.channel.id}/posts?since=0")
    assert len(since["order"]) == 2
    _, page, _ = await api.call("GET", f"/channels/{world.channel.id}/posts?per_page=1")
    assert len(page["order"]) == 1
    assert [p["message"] for p in emu.posts(world.channel.id, root_id=root["id"])] == [
        "p", "reply"]


async def test_ephemeral_forbidden_for_plain_bot(api, world):
    status, body, _ = await api.call("POST", "/posts/ephemeral", {
        "user_id": world.alice.id, "post": {"channel_id": world.channel.id, "message": "x"}})
    assert status == 403 and body["id"] == "api.context.permissions.app_error"


async def test_file_upload_and_attach(emu, api, world):
    form = aiohttp.FormData()
    form.add_field("channel_id", world.channel.id)
    form.add_field("files", b"log bytes", filename="log.txt", content_type="text/plain")
    async with api.session.post(api.base + "/files", data=form,
                                headers={"Authorization": f"Bearer {world.token}"}) as resp:
        assert resp.status == 201
        body = await resp.json()
    info = body["file_infos"][0]
    assert info["name"] == "log.txt" and info["size"] == 9 and info["post_id"] == ""
    async with api.session.get(api.base + f"/files/{info['id']}",
                               headers={"Authorization": f"Bearer {world.token}"}) as resp:
        assert await resp.read() == b"log bytes"
    foreign = await emu.upload_as(world.alice, world.channel.id, "a.txt", b"a")
    _, post, _ = await api.call("POST", "/posts", {
        "channel_id": world.channel.id, "message": "f", "file_ids": [info["id"], foreign]})
    assert post["file_ids"] == [info["id"]]
    assert emu.file_info(info["id"])["post_id"] == post["id"]
    _, got, _ = await api.call("GET", f"/files/{info['id']}/info")
    assert got["post_id"] == post["id"]


async def test_reactions(emu, api, world):
    post = await emu.post_as(world.alice, world.channel.id, "hi")
    status, reaction, _ = await api.call("POST", "/reactions", {
        "user_id": world.bot.id, "post_id": post["id"], "emoji_name": "eyes"})
    assert status == 201 and reaction["emoji_name"] == "eyes"
    _, listed, _ = await api.call("GET", f"/posts/{post['id']}/reactions")
    assert [r["emoji_name"] for r in listed] == ["eyes"]
    assert emu.reactions(post["id"])[0]["user_id"] == world.bot.id


async def test_faults_429_and_503(emu, api):
    emu.faults.fail(r"/users/me$", status=429, times=1, retry_after=1)
    status, body, headers = await api.call("GET", "/users/me")
    assert status == 429 and body == "limit exceeded\n"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Retry-After"] == "1" and headers["X-RateLimit-Remaining"] == "0"
    assert (await api.call("GET", "/users/me"))[0] == 200
    emu.faults.fail(r"/users/me$", status=503, method="GET")
    status, body, _ = await api.call("GET", "/users/me")
    assert status == 503 and body["status_code"] == 503
    emu.faults.clear()
    assert (await api.call("GET", "/users/me"))[0] == 200
    assert ("GET", "/api/v4/users/me", 429) in emu.request_log
