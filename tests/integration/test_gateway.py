"""MattermostGateway against a small aiohttp stub of Mattermost's REST API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.gateway import MattermostGateway
from bot.rest import RetryPolicy, driver_options, parse_retry_after
from commands.ports import GatewayError

TOKEN = "s3cr3t-token-value-xyz"
BOT_ID = "botuserid00000000000000000"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_wait=5.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_error(
    status: int, error_id: str, message: str, request_id: str = "req123"
) -> web.Response:
    body = {"id": error_id, "message": message, "detailed_error": "",
            "request_id": request_id, "status_code": status}
    return web.json_response(body, status=status, headers={"X-Request-Id": request_id})


@dataclass
class Stub:
    """Routes by (method, path after /api/v4); records every request and client connection."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)
    url: str = ""

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler
        return register

    def hits(self, method: str, path: str) -> int:
        return sum(1 for m, p, _, _ in self.requests if (m, p) == (method, path))

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        path = request.path.removeprefix("/api/v4")
        body: Any = None
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
        self.requests.append((request.method, path, dict(request.query), body))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return app_error(401, "api.context.session_expired.app_error",
                             "Invalid or expired session, please login again.")
        handler = self.routes.get((request.method, path))
        if handler is None:
            return app_error(404, "api.context.404.app_error",
                             "Sorry, we could not find the page.")
        return await handler(request)


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    stub = Stub()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.dispatch)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stub.url = str(server.make_url("")).rstrip("/")
    yield stub
    await server.close()


@pytest.fixture
async def gateway(stub: Stub) -> AsyncIterator[MattermostGateway]:
    gw = MattermostGateway(stub.url, TOKEN, timeout=(1.0, 2.0), retry=FAST)
    yield gw
    await gw.close()


def json_handler(body: Any, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status, headers=headers)
    return handler


def sequence(*handlers: Handler) -> Handler:
    """Answer with each handler in turn, repeating the last one."""
    calls = iter(handlers)
    last: list[Handler] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        nxt = next(calls, None)
        if nxt is not None:
            last[:] = [nxt]
        return await last[0](request)
    return handler


# --- construction ----------------------------------------------------------------------------


def test_url_is_split_for_the_driver_with_an_int_port() -> None:
    opts = driver_options("http://127.0.0.1:8065", "t", (3.05, 30))
    assert (opts["scheme"], opts["url"], opts["port"], opts["basepath"]) == (
        "http", "127.0.0.1", 8065, "/api/v4")
    assert isinstance(opts["port"], int)
    opts = driver_options("https://mm.example.com/sub/", "t", (3.05, 30))
    assert (opts["scheme"], opts["url"], opts["port"], opts["basepath"]) == (
        "https", "mm.example.com", 443, "/sub/api/v4")
    with pytest.raises(ValueError, match="http"):
        driver_options("mm.example.com", "t", None)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


# --- error mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_id", "message"),
    [
        (400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter."),
        (401, "api.context.session_expired.app_error",
         "Invalid or expired session, please login again."),
        (403, "api.context.permissions.app_error", "You do not have the appropriate permissions."),
        (404, "app.channel.get_by_name.missing.app_error", "Channel does not exist."),
        (500, "app.post.save.app_error", "Unable to save the Post."),
        (503, "api.server.unavailable", "Server is busy."),
    ],
)
async def test_mattermost_error_bodies_become_gateway_errors(
    stub: Stub, gateway: MattermostGateway, status: int, error_id: str, message: str
) -> None:
    async def fail(request: web.Request) -> web.Response:
        return app_error(status, error_id, message, request_id="rq-" + str(status))
    stub.route("POST", "/posts")(fail)

    with pytest.raises(GatewayError) as caught:
        await gateway.create_post("chan", "hello")

    err = caught.value
    assert (err.status, err.error_id, err.message, err.request_id) == (
        status, error_id, message, "rq-" + str(status))
    assert err.retry_after is None


async def test_a_plain_text_429_keeps_its_retry_after_when_too_long_to_wait(stub: Stub) -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.Response(status=429, text="limit exceeded\n", headers={"Retry-After": "7"})
    stub.route("GET", "/users/me")(limited)
    gw = MattermostGateway(stub.url, TOKEN, retry=RetryPolicy(max_wait=1.0))
    try:
        started = time.monotonic()
        with pytest.raises(GatewayError) as caught:
            await gw.me()
    finally:
        await gw.close()

    assert time.monotonic() - started < 0.5
    assert (caught.value.status, caught.value.message, caught.value.retry_after) == (
        429, "limit exceeded", 7.0)
    assert caught.value.retryable
    assert stub.hits("GET", "/users/me") == 1


async def test_an_html_502_keeps_its_status(stub: Stub, gateway: MattermostGateway) -> None:
    async def proxy_error(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html><body>Bad Gateway</body></html>",
                            content_type="text/html")
    stub.route("GET", "/users/me")(proxy_error)

    with pytest.raises(GatewayError) as caught:
        await gateway.me()

    assert (caught.value.status, caught.value.error_id, caught.value.message) == (
        502, "", "Bad Gateway")
    assert stub.hits("GET", "/users/me") == FAST.max_attempts


# --- retries ---------------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_succeeds(
    stub: Stub, gateway: MattermostGateway
) -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.Response(status=429, text="limit exceeded\n", headers={"Retry-After": "1"})
    stub.route("GET", "/users/me")(sequence(limited, json_handler({"id": BOT_ID})))

    started = time.monotonic()
    me = await gateway.me()

    assert me["id"] == BOT_ID
    assert time.monotonic() - started >= 0.95
    assert stub.hits("GET", "/users/me") == 2


async def test_503_is_retried_with_backoff_then_succeeds(
    stub: Stub, gateway: MattermostGateway
) -> None:
    busy = json_handler({"id": "busy", "message": "busy"}, status=503)
    stub.route("POST", "/posts")(sequence(busy, busy, json_handler({"id": "p1"}, status=201)))

    post = await gateway.create_post("chan", "hello")

    assert post == {"id": "p1"}
    assert stub.hits("POST", "/posts") == 3


async def test_400_fails_fast_without_a_retry(stub: Stub, gateway: MattermostGateway) -> None:
    stub.route("POST", "/posts")(json_handler({"id": "bad", "message": "bad"}, status=400))

    with pytest.raises(GatewayError) as caught:
        await gateway.create_post("chan", "hello")

    assert caught.value.status == 400
    assert not caught.value.retryable
    assert stub.hits("POST", "/posts") == 1


async def test_a_slow_server_times_out_as_a_connection_error(stub: Stub) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"id": BOT_ID})
    stub.route("GET", "/users/me")(slow)
    gw = MattermostGateway(stub.url, TOKEN, timeout=(1.0, 0.3), retry=FAST)
    try:
        started = time.monotonic()
        with pytest.raises(GatewayError) as caught:
            await gw.me()
    finally:
        await gw.close()

    assert (caught.value.status, caught.value.error_id) == (0, "connection")
    assert time.monotonic() - started < 1.2
    assert stub.hits("GET", "/users/me") == 1  # a read timeout is not retried


async def test_a_refused_connection_is_a_connection_error() -> None:
    gw = MattermostGateway("http://127.0.0.1:9", TOKEN, timeout=(0.5, 0.5), retry=FAST)
    try:
        with pytest.raises(GatewayError) as caught:
            await gw.me()
    finally:
        await gw.close()
    assert (caught.value.status, caught.value.error_id) == (0, "connection")
    assert caught.value.retryable


# --- transport -------------------------------------------------------------------------------


async def test_sequential_calls_reuse_one_connection(
    stub: Stub, gateway: MattermostGateway
) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": BOT_ID}))

    for _ in range(20):
        await gateway.me()

    assert len(stub.peers) == 1  # one keep-alive connection
    assert stub.hits("GET", "/users/me") == 20


async def test_calls_never_block_the_event_loop(stub: Stub, gateway: MattermostGateway) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.json_response({"id": BOT_ID})
    stub.route("GET", "/users/me")(slow)
    lag = 0.0
    done = False

    async def ticker() -> None:
        nonlocal lag
        while not done:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lag = max(lag, time.monotonic() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.monotonic()
    await asyncio.gather(*(gateway.me() for _ in range(4)))
    elapsed = time.monotonic() - started
    done = True
    await tick

    assert lag < 0.1
    assert elapsed < 0.9  # concurrent, not 4 × 0.3 s in a row


async def test_driver_calls_are_coroutines_on_the_running_loop(
    stub: Stub, gateway: MattermostGateway
) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": BOT_ID}))

    pending = gateway.driver.users.get_user("me")  # the driver's own endpoint method
    assert asyncio.iscoroutine(pending)
    assert (await pending)["id"] == BOT_ID


async def test_charset_json_is_parsed_and_empty_bodies_are_tolerated(
    stub: Stub, gateway: MattermostGateway
) -> None:
    async def charset(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"id": "u1"}),
                            headers={"Content-Type": "application/json; charset=utf-8"})

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=200)
    stub.route("GET", "/users/u1")(charset)
    stub.route("POST", "/actions/dialogs/open")(empty)

    assert await gateway.get_user("u1") == {"id": "u1"}
    assert await gateway.open_dialog("trig", "http://bot/dialog", {"title": "T"}) is None


async def test_the_token_never_reaches_the_logs(
    stub: Stub, gateway: MattermostGateway, caplog: pytest.LogCaptureFixture
) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": "x", "message": "boom"}, status=503))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(GatewayError):
        await gateway.me()
    assert await gateway.get_user_by_username("nobody") is None

    assert TOKEN not in caplog.text
    assert TOKEN not in repr(gateway) + repr(gateway.driver.client)
    assert not [r for r in caplog.records if r.name == "mattermostdriver.websocket"]


async def test_closed_gateway_refuses_calls(stub: Stub) -> None:
    gw = MattermostGateway(stub.url, TOKEN, retry=FAST)
    await gw.close()
    await gw.close()

    with pytest.raises(GatewayError) as caught:
        await gw.me()
    assert caught.value.status == 0


# --- endpoints -------------------------------------------------------------------------------


async def test_me_caches_the_bot_user_id(stub: Stub, gateway: MattermostGateway) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": BOT_ID, "username": "desk"}))

    assert gateway.bot_user_id is None
    assert (await gateway.me())["username"] == "desk"
    assert gateway.bot_user_id == BOT_ID


async def test_user_lookups(stub: Stub, gateway: MattermostGateway) -> None:
    stub.route("GET", "/users/username/alice")(json_handler({"id": "ua"}))
    stub.route("GET", "/users/email/bob+x@example.com")(json_handler({"id": "ub"}))
    stub.route("POST", "/users/ids")(json_handler([{"id": "ua"}, {"id": "ub"}]))

    assert await gateway.get_user_by_username("alice") == {"id": "ua"}
    assert await gateway.get_user_by_username("ghost") is None
    assert await gateway.get_user_by_email("bob+x@example.com") == {"id": "ub"}
    assert await gateway.get_user_by_email("nobody@example.com") is None
    assert await gateway.get_users_by_ids(["ua", "ub", "ua"]) == [{"id": "ua"}, {"id": "ub"}]
    assert await gateway.get_users_by_ids([]) == []
    assert [r[3] for r in stub.requests if r[1] == "/users/ids"] == [["ua", "ub"]]


async def test_a_non_404_error_is_not_taken_for_a_missing_user(
    stub: Stub, gateway: MattermostGateway
) -> None:
    stub.route("GET", "/users/username/alice")(json_handler({"id": "x", "message": "no"}, 403))

    with pytest.raises(GatewayError) as caught:
        await gateway.get_user_by_username("alice")
    assert caught.value.status == 403


async def test_team_and_channel_by_name(stub: Stub, gateway: MattermostGateway) -> None:
    stub.route("GET", "/teams/name/support")(json_handler({"id": "t1"}))
    stub.route("GET", "/teams/t1/channels/name/tickets")(json_handler({"id": "c1"}))

    assert (await gateway.get_team_by_name("support"))["id"] == "t1"
    assert (await gateway.get_channel_by_name("t1", "tickets"))["id"] == "c1"


async def test_channel_member_ids_are_paged_by_200(stub: Stub, gateway: MattermostGateway) -> None:
    members = [{"user_id": f"u{i}"} for i in range(450)]

    async def page(request: web.Request) -> web.Response:
        n, per = int(request.query["page"]), int(request.query["per_page"])
        return web.json_response(members[n * per:(n + 1) * per])
    stub.route("GET", "/channels/c1/members")(page)

    ids = await gateway.channel_member_ids("c1")

    assert ids == [m["user_id"] for m in members]
    assert [r[2] for r in stub.requests if r[1] == "/channels/c1/members"] == [
        {"page": str(n), "per_page": "200"} for n in range(3)]


async def test_direct_channel_is_created_with_me_and_cached(
    stub: Stub, gateway: MattermostGateway
) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": BOT_ID}))
    stub.route("POST", "/channels/direct")(json_handler({"id": "dm1", "type": "D"}, status=201))

    assert await gateway.direct_channel("u1") == "dm1"
    assert await gateway.direct_channel("u1") == "dm1"

    assert [r[3] for r in stub.requests if r[1] == "/channels/direct"] == [[BOT_ID, "u1"]]


async def test_create_post_sends_root_props_and_file_ids(
    stub: Stub, gateway: MattermostGateway
) -> None:
    stub.route("POST", "/posts")(json_handler({"id": "p1"}, status=201))

    await gateway.create_post("c1", "hi", root_id="r1", props={"k": "v"}, file_ids=["f1"])
    await gateway.create_post("c1", "plain")

    bodies = [r[3] for r in stub.requests if r[1] == "/posts"]
    assert bodies == [
        {"channel_id": "c1", "message": "hi", "root_id": "r1", "props": {"k": "v"},
         "file_ids": ["f1"]},
        {"channel_id": "c1", "message": "plain"},
    ]


async def test_update_post_puts_the_full_post(stub: Stub, gateway: MattermostGateway) -> None:
    current = {"id": "p1", "channel_id": "c1", "message": "old", "props": {"a": 1},
               "file_ids": ["f1"], "create_at": 5}
    stub.route("GET", "/posts/p1")(json_handler(current))

    async def put(request: web.Request) -> web.Response:
        return web.json_response(await request.json())
    stub.route("PUT", "/posts/p1")(put)

    kept = await gateway.update_post("p1", "new")
    replaced = await gateway.update_post("p1", "newer", props={"b": 2})

    assert kept == current | {"message": "new"}
    assert replaced == current | {"message": "newer", "props": {"b": 2}}


async def test_thread_and_channel_posts_come_oldest_first(
    stub: Stub, gateway: MattermostGateway
) -> None:
    post_list = {
        "order": ["c", "b", "a"],
        "posts": {"b": {"id": "b", "create_at": 2}, "c": {"id": "c", "create_at": 3},
                  "a": {"id": "a", "create_at": 1}},
    }
    stub.route("GET", "/posts/a/thread")(json_handler(post_list))
    stub.route("GET", "/channels/c1/posts")(json_handler(post_list))

    assert [p["id"] for p in await gateway.get_thread("a")] == ["a", "b", "c"]
    assert [p["id"] for p in await gateway.get_channel_posts_since("c1", 1700000000000)] == [
        "a", "b", "c"]
    assert [r[2] for r in stub.requests if r[1] == "/channels/c1/posts"] == [
        {"since": "1700000000000"}]


async def test_files_upload_and_download(stub: Stub, gateway: MattermostGateway) -> None:
    uploads: list[dict[str, Any]] = []

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        uploads.append({"channel_id": form["channel_id"], "name": form["files"].filename,
                        "data": form["files"].file.read()})
        return web.json_response({"file_infos": [{"id": "f1"}], "client_ids": []}, status=201)
    stub.route("POST", "/files")(upload)
    # a JSON attachment must come back as bytes, not parsed
    stub.route("GET", "/files/f1")(json_handler({"not": "parsed"}))
    stub.route("GET", "/files/f1/info")(json_handler({"id": "f1", "name": "log.txt"}))

    assert await gateway.upload_file("c1", "log.txt", b"line\n") == "f1"
    assert await gateway.get_file("f1") == b'{"not": "parsed"}'
    assert (await gateway.get_file_info("f1"))["name"] == "log.txt"
    assert uploads == [{"channel_id": "c1", "name": "log.txt", "data": b"line\n"}]


async def test_a_retried_upload_resends_the_whole_file(
    stub: Stub, gateway: MattermostGateway
) -> None:
    sizes: list[int] = []

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        sizes.append(len(form["files"].file.read()))
        if len(sizes) == 1:
            return web.json_response({"id": "busy", "message": "busy"}, status=503)
        return web.json_response({"file_infos": [{"id": "f2"}]}, status=201)
    stub.route("POST", "/files")(upload)

    assert await gateway.upload_file("c1", "a.bin", b"x" * 1000) == "f2"
    assert sizes == [1000, 1000]


async def test_reaction_dialog_and_commands(stub: Stub, gateway: MattermostGateway) -> None:
    stub.route("GET", "/users/me")(json_handler({"id": BOT_ID}))
    stub.route("POST", "/reactions")(json_handler({"post_id": "p1"}, status=201))
    stub.route("POST", "/actions/dialogs/open")(json_handler({"status": "OK"}))
    stub.route("GET", "/commands")(json_handler([{"id": "cmd1", "trigger": "ticket"}]))
    stub.route("POST", "/commands")(json_handler({"id": "cmd2"}, status=201))

    async def put_command(request: web.Request) -> web.Response:
        return web.json_response(await request.json())
    stub.route("PUT", "/commands/cmd1")(put_command)

    await gateway.add_reaction("p1", ":white_check_mark:")
    await gateway.open_dialog("trig", "http://bot/d", {"callback_id": "ticket.new"})
    assert await gateway.list_commands("t1") == [{"id": "cmd1", "trigger": "ticket"}]
    assert await gateway.create_command({"trigger": "x"}) == {"id": "cmd2"}
    updated = await gateway.update_command({"id": "cmd1", "trigger": "ticket", "url": "http://b"})

    assert updated["url"] == "http://b"
    by_path = {(r[0], r[1]): r for r in stub.requests}
    assert by_path[("POST", "/reactions")][3] == {
        "user_id": BOT_ID, "post_id": "p1", "emoji_name": "white_check_mark"}
    assert by_path[("POST", "/actions/dialogs/open")][3] == {
        "trigger_id": "trig", "url": "http://bot/d", "dialog": {"callback_id": "ticket.new"}}
    assert by_path[("GET", "/commands")][2] == {"team_id": "t1", "custom_only": "true"}


async def test_patch_is_sent_as_patch(stub: Stub, gateway: MattermostGateway) -> None:
    async def patch(request: web.Request) -> web.Response:
        return web.json_response({"method": request.method, "body": await request.json()})
    stub.route("PATCH", "/channels/c1/bookmarks/b1")(patch)

    result = await gateway._rest.call(
        lambda d: d.client.patch("/channels/c1/bookmarks/b1", options={"display_name": "x"}))

    assert result == {"method": "PATCH", "body": {"display_name": "x"}}


# --- against the project's emulator (skipped where it is absent) -------------------------------


async def test_a_support_flow_against_the_emulator() -> None:
    emulator = pytest.importorskip("emulator")
    emu = emulator.Emulator()
    await emu.start()
    team = emu.create_team("support")
    bot, token = emu.create_bot("desk", team)
    alice = emu.create_user("alice")
    channel = emu.create_channel(team, "tickets", members=[bot, alice])
    gw = MattermostGateway(emu.url, token, timeout=(1.0, 5.0), retry=FAST)
    try:
        assert (await gw.me())["id"] == bot.id == gw.bot_user_id
        assert (await gw.get_team_by_name("support"))["id"] == team.id
        assert (await gw.get_channel_by_name(team.id, "tickets"))["id"] == channel.id
        assert sorted(await gw.channel_member_ids(channel.id)) == sorted([bot.id, alice.id])
        assert (await gw.get_user_by_username("alice"))["id"] == alice.id
        assert await gw.get_user_by_username("nobody") is None

        emu.faults.fail(r"/api/v4/posts$", 503, method="POST", times=2)
        root = await gw.create_post(channel.id, "Ticket #1", props={"ticket_id": 1})
        reply = await gw.create_post(channel.id, "on it", root_id=root["id"])
        assert [p["id"] for p in await gw.get_thread(root["id"])] == [root["id"], reply["id"]]

        edited = await gw.update_post(root["id"], "Ticket #1 (solved)")
        assert (edited["message"], edited["props"]["ticket_id"]) == ("Ticket #1 (solved)", 1)

        dm = await gw.direct_channel(alice.id)
        file_id = await gw.upload_file(dm, "note.txt", b"hello")
        await gw.create_post(dm, "see file", file_ids=[file_id])
        assert await gw.get_file(file_id) == b"hello"
        await gw.add_reaction(root["id"], "white_check_mark")
        assert [r["emoji_name"] for r in emu.reactions(root["id"])] == ["white_check_mark"]

        with pytest.raises(GatewayError) as caught:
            await gw.get_channel_by_name(team.id, "missing")
        assert (caught.value.status, caught.value.error_id) == (
            404, "app.channel.get_by_name.missing.app_error")
    finally:
        await gw.close()
        await emu.stop()
