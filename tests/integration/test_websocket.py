"""MattermostWebsocket against a small aiohttp stub of /api/v4/websocket on 127.0.0.1.

The stub follows mattermost-protocol.md §4: challenge seq 1, then hello (seq 0) and the OK reply,
a bad token closes the TCP connection without a close frame, `ping` actions get an OK reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from bot.websocket import MattermostWebsocket, WebsocketAuthError, decode_post, websocket_url

GOOD = "good-token-0123456789"
FAST = {"heartbeat": 5.0, "backoff": (0.01, 0.05), "auth_timeout": 1.0}


def conn_id(n: int) -> str:
    return f"conn{n}".ljust(26, "x")


def posted(seq: int, message: str, post_id: str = "p1") -> dict[str, Any]:
    post = {"id": post_id, "channel_id": "c1", "user_id": "u1", "message": message}
    return {"event": "posted", "seq": seq,
            "data": {"post": json.dumps(post), "channel_type": "O", "team_id": "t1"},
            "broadcast": {"omit_users": None, "user_id": "", "channel_id": "c1", "team_id": "",
                          "connection_id": "", "omit_connection_id": ""}}


@dataclass
class Conn:
    query: dict[str, str]
    authorization: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


Script = Callable[[web.WebSocketResponse, int, Conn], Awaitable[None]]


async def no_script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
    return None


@dataclass
class WsStub:
    url: str = ""
    conns: list[Conn] = field(default_factory=list)
    script: Script = no_script
    ok_first: bool = False  # send the OK reply before hello (the real order is racy)
    hello: Callable[[int, Conn], bool] = lambda index, conn: True  # send a hello?
    autoping: bool = True
    silent: bool = False  # never answer anything (an unauthenticated socket)
    close_at_once: bool = False  # drop the TCP connection right after the upgrade

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=self.autoping)
        await ws.prepare(request)
        conn = Conn(dict(request.query), request.headers.get("Authorization", ""))
        index = len(self.conns)
        self.conns.append(conn)
        if self.silent:
            await self._read(ws, conn, reply=False)
            return ws
        if self.close_at_once:
            assert request.transport is not None
            request.transport.close()
            return ws
        msg = await ws.receive()
        challenge = json.loads(msg.data)
        conn.frames.append(challenge)
        if challenge.get("data", {}).get("token") != GOOD:
            assert request.transport is not None
            request.transport.close()  # as Mattermost: no close frame, no error frame
            conn.closed.set()
            return ws
        hello = {"event": "hello", "seq": 0,
                 "data": {"server_version": "10.7.0", "connection_id": conn_id(index)},
                 "broadcast": {"omit_users": None, "user_id": "bot", "channel_id": "",
                               "team_id": "", "connection_id": "", "omit_connection_id": ""}}
        ok = {"status": "OK", "seq_reply": challenge["seq"]}
        frames = [ok, hello] if self.ok_first else [hello, ok]
        for frame in frames:
            if frame is ok or self.hello(index, conn):
                await ws.send_json(frame)
        reader = asyncio.create_task(self._read(ws, conn))
        await self.script(ws, index, conn)
        await reader
        return ws

    async def _read(self, ws: web.WebSocketResponse, conn: Conn, reply: bool = True) -> None:
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    frame = json.loads(msg.data)
                    conn.frames.append(frame)
                    if reply and frame.get("action") == "ping":
                        await ws.send_json({"status": "OK", "seq_reply": frame["seq"],
                                            "data": {"text": "pong"}})
            if ws.close_code is not None:
                conn.close_code = ws.close_code
        finally:
            conn.closed.set()


@pytest.fixture
async def stub() -> AsyncIterator[WsStub]:
    stub = WsStub()
    app = web.Application()
    app.router.add_get("/api/v4/websocket", stub.handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stub.url = str(server.make_url("")).rstrip("/")
    yield stub
    await server.close()


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Collector:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]


async def stop_and_join(client: MattermostWebsocket, task: asyncio.Task[None]) -> None:
    await client.stop()
    await asyncio.wait_for(task, 2)


# --- pure helpers ----------------------------------------------------------------------------


def test_websocket_url_follows_the_server_url() -> None:
    assert websocket_url("http://127.0.0.1:8065") == "ws://127.0.0.1:8065/api/v4/websocket"
    assert websocket_url("https://mm.example.com/sub/") == (
        "wss://mm.example.com/sub/api/v4/websocket")
    with pytest.raises(ValueError, match="http"):
        websocket_url("mm.example.com")


def test_decode_post_parses_the_nested_json_string() -> None:
    assert decode_post(posted(1, "hi")) == {"id": "p1", "channel_id": "c1", "user_id": "u1",
                                            "message": "hi"}
    assert decode_post({"event": "typing", "data": {}}) is None
    assert decode_post({"event": "posted", "data": {"post": "{not json"}}) is None


# --- connecting ------------------------------------------------------------------------------


@pytest.mark.parametrize("ok_first", [False, True])
async def test_authenticates_then_delivers_every_event(stub: WsStub, ok_first: bool) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        await ws.send_json(posted(1, "first"))
        await ws.send_json({"event": "typing", "seq": 2, "data": {"user_id": "u1"},
                            "broadcast": {"channel_id": "c1"}})
    stub.script, stub.ok_first = script, ok_first
    got = Collector()
    client = MattermostWebsocket(stub.url, GOOD, got, **FAST)
    task = asyncio.create_task(client.run())

    await until(lambda: len(got.events) == 3)
    assert client.is_connected

    assert got.names() == ["hello", "posted", "typing"]
    assert got.events[1]["data"]["post_obj"]["message"] == "first"
    assert decode_post(got.events[1])["message"] == "first"
    assert client.events_received == 3
    assert client.connection_id == conn_id(0)
    assert client.server_version == "10.7.0"
    conn = stub.conns[0]
    assert conn.authorization == f"Bearer {GOOD}"
    assert conn.frames[0] == {"seq": 1, "action": "authentication_challenge",
                              "data": {"token": GOOD}}
    assert conn.query == {}
    await stop_and_join(client, task)
    assert not client.is_connected


async def test_events_can_go_to_a_caller_owned_queue(stub: WsStub) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        await ws.send_json(posted(1, "queued"))
    stub.script = script
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client = MattermostWebsocket(stub.url, GOOD, queue, **FAST)
    task = asyncio.create_task(client.run())

    hello = await asyncio.wait_for(queue.get(), 2)
    event = await asyncio.wait_for(queue.get(), 2)

    assert (hello["event"], event["data"]["post_obj"]["message"]) == ("hello", "queued")
    await stop_and_join(client, task)


async def test_a_bad_token_raises_after_max_auth_failures(stub: WsStub) -> None:
    client = MattermostWebsocket(stub.url, "wrong", Collector(), **FAST, max_auth_failures=3)
    started = time.monotonic()

    with pytest.raises(WebsocketAuthError):
        await asyncio.wait_for(client.run(), 5)

    assert len(stub.conns) == 3
    assert time.monotonic() - started < 2
    assert not client.is_connected


async def test_a_server_that_drops_every_new_socket_ends_in_an_auth_error(stub: WsStub) -> None:
    stub.close_at_once = True
    client = MattermostWebsocket(stub.url, GOOD, Collector(), **FAST)

    with pytest.raises(WebsocketAuthError):
        await asyncio.wait_for(client.run(), 5)
    assert len(stub.conns) == 3


async def test_a_silent_server_counts_as_an_auth_failure(stub: WsStub) -> None:
    """Unauthenticated sockets get nothing back; the real server closes them after ~5 s."""
    stub.silent = True
    client = MattermostWebsocket(stub.url, GOOD, Collector(), **(FAST | {"auth_timeout": 0.2}),
                                 max_auth_failures=2)

    with pytest.raises(WebsocketAuthError):
        await asyncio.wait_for(client.run(), 5)
    assert len(stub.conns) == 2


# --- reconnecting ----------------------------------------------------------------------------


async def test_a_dropped_connection_resumes_and_a_new_server_connection_triggers_resync(
    stub: WsStub,
) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        if index == 0:
            await ws.send_json(posted(1, "one"))
            await ws.send_json(posted(2, "two"))
            await asyncio.sleep(0.05)
            ws._req.transport.close()  # type: ignore[union-attr]  # drop: no close frame
        else:
            await ws.send_json(posted(1, "after"))
    stub.script = script
    got = Collector()
    resyncs: list[float] = []

    async def on_resync() -> None:
        resyncs.append(time.monotonic())
    client = MattermostWebsocket(stub.url, GOOD, got, **FAST, on_resync=on_resync)
    task = asyncio.create_task(client.run())

    await until(lambda: "after" in [decode_post(e)["message"] for e in got.events
                                    if e["event"] == "posted"])
    await until(lambda: len(resyncs) == 1)

    assert len(stub.conns) == 2
    assert stub.conns[1].query == {"connection_id": conn_id(0), "sequence_number": "3"}
    assert stub.conns[1].authorization == f"Bearer {GOOD}"
    assert client.reconnects == 1
    assert client.connection_id == conn_id(1)
    await stop_and_join(client, task)


async def test_a_resumed_connection_without_hello_counts_as_connected(stub: WsStub) -> None:
    """On a resume the server replays or just continues: no new hello, and the ping proves auth."""
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        if index == 0:
            await asyncio.sleep(0.05)
            ws._req.transport.close()  # type: ignore[union-attr]
    stub.script = script
    stub.hello = lambda index, conn: index == 0
    resyncs: list[int] = []

    def on_resync() -> None:  # a plain function works too
        resyncs.append(1)
    client = MattermostWebsocket(stub.url, GOOD, Collector(), **FAST, on_resync=on_resync)
    task = asyncio.create_task(client.run())

    await until(lambda: client.reconnects == 1 and client.is_connected)

    assert stub.conns[1].query == {"connection_id": conn_id(0), "sequence_number": "1"}
    assert client.connection_id == conn_id(0)
    assert resyncs == []
    await stop_and_join(client, task)


async def test_a_dead_peer_is_detected_by_heartbeat(stub: WsStub) -> None:
    stub.autoping = False  # the stub never answers pings
    client = MattermostWebsocket(stub.url, GOOD, Collector(), **(FAST | {"heartbeat": 0.2}))
    task = asyncio.create_task(client.run())

    await until(lambda: len(stub.conns) >= 2 and client.is_connected)

    await stop_and_join(client, task)


async def test_reconnects_back_off_while_the_server_is_down() -> None:
    client = MattermostWebsocket("http://127.0.0.1:9", GOOD, Collector(),
                                 heartbeat=5, backoff=(0.05, 0.2), connect_timeout=0.5)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(0.3)

    started = time.monotonic()
    await stop_and_join(client, task)

    assert time.monotonic() - started < 0.5
    assert not client.is_connected


# --- handlers --------------------------------------------------------------------------------


async def test_a_failing_handler_keeps_the_connection(
    stub: WsStub, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        await ws.send_json(posted(1, "boom"))
        await ws.send_json(posted(2, "fine"))
    stub.script = script
    handled: list[str] = []

    async def handler(event: dict[str, Any]) -> None:
        if event["event"] == "posted":
            message = decode_post(event)["message"]
            if message == "boom":
                raise RuntimeError("handler bug")
            handled.append(message)
    client = MattermostWebsocket(stub.url, GOOD, handler, **FAST)
    task = asyncio.create_task(client.run())

    await until(lambda: handled == ["fine"])

    assert len(stub.conns) == 1
    assert client.is_connected
    assert "handler failed" in caplog.text
    await stop_and_join(client, task)


async def test_a_slow_handler_does_not_hold_up_reading(stub: WsStub) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        for seq in range(1, 6):
            await ws.send_json(posted(seq, f"m{seq}"))
    stub.script = script
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(event: dict[str, Any]) -> None:
        await release.wait()
        handled.append(event["event"])
    client = MattermostWebsocket(stub.url, GOOD, handler, **FAST)
    task = asyncio.create_task(client.run())

    await until(lambda: client.events_received == 6, timeout=1)
    assert handled == []
    release.set()
    await until(lambda: len(handled) == 6)
    await stop_and_join(client, task)


async def test_a_full_queue_drops_and_asks_for_a_resync(stub: WsStub) -> None:
    async def script(ws: web.WebSocketResponse, index: int, conn: Conn) -> None:
        for seq in range(1, 6):
            await ws.send_json(posted(seq, f"m{seq}"))
    stub.script = script
    release = asyncio.Event()
    resyncs: list[int] = []

    async def handler(event: dict[str, Any]) -> None:
        await release.wait()

    async def on_resync() -> None:
        resyncs.append(1)
    client = MattermostWebsocket(stub.url, GOOD, handler, **FAST, queue_size=2,
                                 on_resync=on_resync)
    task = asyncio.create_task(client.run())

    await until(lambda: client.events_received == 6)
    await until(lambda: resyncs == [1])

    # 6 events (hello + 5) into a queue of 2, while the worker holds at most 1
    assert client.events_dropped in (3, 4)
    assert client.is_connected
    release.set()
    await stop_and_join(client, task)


# --- stopping --------------------------------------------------------------------------------


async def test_stop_sends_close_1000_and_returns_promptly(stub: WsStub) -> None:
    client = MattermostWebsocket(stub.url, GOOD, Collector(), **FAST)
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(client.connected.wait(), 2)

    started = time.monotonic()
    await client.stop()

    assert time.monotonic() - started < 1
    assert task.done() and task.exception() is None
    await asyncio.wait_for(stub.conns[0].closed.wait(), 2)
    assert stub.conns[0].close_code == 1000
    assert len(stub.conns) == 1
    assert not client.is_connected


async def test_the_token_never_reaches_the_logs(
    stub: WsStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = MattermostWebsocket(stub.url, "wrong-secret-token", Collector(), **FAST)
    with pytest.raises(WebsocketAuthError):
        await asyncio.wait_for(client.run(), 5)
    good = MattermostWebsocket(stub.url, GOOD, Collector(), **FAST)
    task = asyncio.create_task(good.run())
    await asyncio.wait_for(good.connected.wait(), 2)
    await stop_and_join(good, task)

    assert "wrong-secret-token" not in caplog.text
    assert GOOD not in caplog.text
    assert GOOD not in repr(good)


# --- against the project's emulator (skipped where it is absent) -------------------------------


async def test_posts_arrive_and_a_drop_resumes_against_the_emulator() -> None:
    emulator = pytest.importorskip("emulator")
    emu = emulator.Emulator()
    await emu.start()
    team = emu.create_team("support")
    bot, token = emu.create_bot("desk", team)
    alice = emu.create_user("alice")
    channel = emu.create_channel(team, "tickets", members=[bot, alice])
    got = Collector()
    client = MattermostWebsocket(emu.url, token, got, **FAST)
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: client.is_connected or task.done())
        assert client.is_connected, task.exception() if task.done() else "not connected"
        await emu.post_as(alice, channel.id, "help please")
        await until(lambda: any(e["event"] == "posted" for e in got.events))
        posted_event = next(e for e in got.events if e["event"] == "posted")
        assert posted_event["data"]["post_obj"]["message"] == "help please"

        await emu.drop_websockets()
        await until(lambda: client.reconnects == 1 and client.is_connected)
        await emu.post_as(alice, channel.id, "still there?")
        await until(lambda: [decode_post(e)["message"] for e in got.events
                             if e["event"] == "posted"][-1:] == ["still there?"])
    finally:
        await stop_and_join(client, task)
        await emu.stop()
