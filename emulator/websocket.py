"""The /api/v4/websocket endpoint: auth, hello, events with per-connection seq."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .errors import AppError
from .ids import is_valid_id, new_id

if TYPE_CHECKING:
    from . import Emulator

SERVER_VERSION = "10.7.0.0.emulator.false"
EMU_KEY: web.AppKey[Any] = web.AppKey("emu", object)


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    user_id: str = ""
    connection_id: str = field(default_factory=new_id)
    seq: int = 0
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


def broadcast(*, user_id: str = "", channel_id: str = "", team_id: str = "",
              omit_users: dict | None = None) -> dict:
    return {"omit_users": omit_users, "user_id": user_id, "channel_id": channel_id,
            "team_id": team_id, "connection_id": "", "omit_connection_id": ""}


class Hub:
    """Registered (authenticated) connections and event fan-out."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.conns: list[Conn] = []
        self.all_sockets: set[Conn] = set()

    def publish(self, event: str, data: dict, *, user_id: str = "", channel_id: str = "",
                team_id: str = "", omit_users: dict | None = None, per_user=None) -> None:
        """Queue an event for every matching connection; per_user(uid) adds data keys."""
        bc = broadcast(user_id=user_id, channel_id=channel_id, team_id=team_id,
                       omit_users=omit_users)
        for conn in list(self.conns):
            if not self._wants(conn, user_id, channel_id, team_id, omit_users):
                continue
            extra = per_user(conn.user_id) if per_user else None
            payload = {**data, **extra} if extra else data
            conn.queue.put_nowait(("event", {"event": event, "data": payload, "broadcast": bc}))

    def _wants(self, conn: Conn, user_id: str, channel_id: str, team_id: str,
               omit_users: dict | None) -> bool:
        if omit_users and conn.user_id in omit_users:
            return False
        if user_id:
            return conn.user_id == user_id
        store = self.emu.store
        if channel_id:
            return store.is_member(channel_id, conn.user_id)
        if team_id:
            return store.is_team_member(team_id, conn.user_id)
        return True

    def online_users(self) -> set[str]:
        return {c.user_id for c in self.conns}

    async def close_all(self, *, abrupt: bool) -> None:
        for conn in list(self.all_sockets):
            await _close(conn, abrupt=abrupt)
        self.conns.clear()


async def _close(conn: Conn, *, abrupt: bool) -> None:
    if abrupt:
        transport = conn.request.transport
        if transport is not None:
            transport.abort()
        conn.queue.put_nowait(("stop", None))
        return
    with contextlib.suppress(Exception):
        await conn.ws.close()


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    emu: Emulator = request.app[EMU_KEY]
    ws = web.WebSocketResponse(heartbeat=emu.ping_interval, max_msg_size=8 * 1024)
    await ws.prepare(request)
    conn = Conn(ws=ws, request=request)
    hub = emu.hub
    hub.all_sockets.add(conn)
    writer = asyncio.create_task(_writer(conn))
    try:
        if not _reconnect_params_ok(request):
            await _close(conn, abrupt=True)
            return ws
        header_user = emu.user_for_request(request)
        if header_user:
            _register(hub, conn, header_user.id)
        await _reader(emu, conn)
    finally:
        hub.all_sockets.discard(conn)
        if conn in hub.conns:
            hub.conns.remove(conn)
        conn.queue.put_nowait(("stop", None))
        with contextlib.suppress(Exception):
            await writer
    return ws


def _reconnect_params_ok(request: web.Request) -> bool:
    conn_id = request.query.get("connection_id")
    seq = request.query.get("sequence_number")
    if conn_id is None and seq is None:
        return True
    if conn_id is None or seq is None or not is_valid_id(conn_id):
        return False
    return seq.lstrip("-").isdigit()


def _register(hub: Hub, conn: Conn, user_id: str) -> None:
    conn.user_id = user_id
    hub.conns.append(conn)
    hello = {"server_version": SERVER_VERSION, "connection_id": conn.connection_id,
             "server_hostname": "emulator"}
    conn.queue.put_nowait(("event", {"event": "hello", "data": hello,
                                     "broadcast": broadcast(user_id=user_id)}))


async def _writer(conn: Conn) -> None:
    """Send queued frames in order; events get the connection's seq."""
    while True:
        kind, frame = await conn.queue.get()
        if kind == "stop":
            return
        if kind == "event":
            frame = {**frame, "seq": conn.seq}
            conn.seq += 1
        try:
            await conn.ws.send_str(json.dumps(frame))
        except Exception:  # noqa: BLE001 - peer gone; the reader cleans up
            return


async def _reader(emu: Emulator, conn: Conn) -> None:
    deadline = time.monotonic() + emu.ws_auth_timeout
    while True:
        timeout = None if conn.user_id else max(0.0, deadline - time.monotonic())
        try:
            msg = await asyncio.wait_for(conn.ws.receive(), timeout)
        except TimeoutError:
            await _close(conn, abrupt=True)  # authCheckInterval: conn.Close(), no frame
            return
        if msg.type != WSMsgType.TEXT:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING,
                            WSMsgType.ERROR):
                return
            continue
        try:
            req = json.loads(msg.data)
        except ValueError:
            continue
        if not isinstance(req, dict):
            continue
        if not await _handle_request(emu, conn, req):
            return


async def _handle_request(emu: Emulator, conn: Conn, req: dict) -> bool:
    """Handle one client request; False means the socket was closed."""
    action, seq = req.get("action"), req.get("seq")
    data = req.get("data") if isinstance(req.get("data"), dict) else {}
    if action == "authentication_challenge":
        if conn.user_id:
            return True  # already authenticated: silently ignored
        if not isinstance(seq, int) or seq < 1:
            return True  # bad_seq FAIL, never delivered to an unregistered connection
        token = data.get("token")
        user_id = emu.store.tokens.get(token) if isinstance(token, str) else None
        if not user_id:
            await _close(conn, abrupt=True)  # conn.WebSocket.Close(): no error frame
            return False
        _register(emu.hub, conn, user_id)
        conn.queue.put_nowait(("reply", {"status": "OK", "seq_reply": seq}))
        return True
    if not conn.user_id:
        return True  # not in the hub: nothing is delivered
    if not isinstance(seq, int) or seq <= 0:
        _fail(conn, seq, AppError("api.web_socket_router.bad_seq.app_error", 400))
        return True
    reply = _action_reply(emu, conn, action, data)
    if reply is None:
        _fail(conn, seq, AppError("api.web_socket_router.bad_action.app_error", 500))
        return True
    frame: dict[str, Any] = {"status": "OK", "seq_reply": seq}
    if reply:
        frame["data"] = reply
    conn.queue.put_nowait(("reply", frame))
    return True


def _action_reply(emu: Emulator, conn: Conn, action: Any, data: dict) -> dict | None:
    if action == "ping":
        return {"text": "pong", "version": SERVER_VERSION,
                "server_time": emu.now_ms(), "node_id": ""}
    if action == "user_typing":
        emu.hub.publish("typing", {"parent_id": data.get("parent_id", ""),
                                   "user_id": conn.user_id},
                        channel_id=str(data.get("channel_id", "")),
                        omit_users={conn.user_id: True})
        return {}
    if action in ("get_statuses", "get_statuses_by_ids"):
        ids = data.get("user_ids") or list(emu.store.users)
        return {uid: "online" if uid in emu.hub.online_users() else "offline" for uid in ids}
    if action in ("user_update_active_status", "presence", "posted_notify_ack"):
        return {}
    return None


def _fail(conn: Conn, seq: Any, err: AppError) -> None:
    conn.queue.put_nowait(("reply", {"status": "FAIL", "seq_reply": seq, "error": {
        "id": err.id, "message": err.message, "detailed_error": "",
        "status_code": err.status}}))
