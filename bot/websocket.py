"""Mattermost websocket client on aiohttp: auth, heartbeat, backoff, resume, bounded auth failures.

Not mattermostdriver's Websocket: that one cannot start inside a running loop, retries a bad token
forever, cancels or drops on slow/failing handlers and never sends a close frame
(shared/mattermostdriver-notes.md §3). Protocol facts: shared/mattermost-protocol.md §4.

Frames are decoded and queued; a separate worker task runs the handler, so a slow or failing
handler never stalls the read loop (which must keep answering the server's pings) or drops the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]
ResyncHandler = Callable[[], Awaitable[None] | None]

# Events whose data.post is a JSON string (mattermost-protocol.md §4.4); given data.post_obj too.
POST_EVENTS: Final = frozenset({"posted", "post_edited", "post_deleted", "ephemeral_message"})
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024  # props may reach 800000 runes

_AUTH_OK: Final = "authenticated"
_AUTH_FAILED: Final = "auth_failed"
_RESUME_REJECTED: Final = "resume_rejected"
_CONNECT_FAILED: Final = "connect_failed"
_LOST: Final = "lost"
_STOPPED: Final = "stopped"


class WebsocketAuthError(Exception):
    """The server refused the token `max_auth_failures` times in a row: retrying is pointless."""


def decode_post(event: dict[str, Any]) -> dict[str, Any] | None:
    """The Post inside a posted/post_edited/... event (data.post is a JSON string), or None."""
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    post = data.get("post_obj", data.get("post"))
    if isinstance(post, dict):
        return post
    if isinstance(post, str):
        try:
            decoded = json.loads(post)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def websocket_url(url: str) -> str:
    """http(s)://host[:port][/sub] → ws(s)://host[:port][/sub]/api/v4/websocket."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"Mattermost URL must be http(s)://host[:port][/path], got {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/api/v4/websocket"):
        path += "/api/v4/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class MattermostWebsocket:
    """One long-lived Mattermost websocket; `await run()` until `stop()` or WebsocketAuthError.

    `on_event` is an async handler (run by a worker task, one event at a time, exceptions logged)
    or an asyncio.Queue the caller consumes. Either way the queue is bounded: when it is full the
    event is dropped, counted in `events_dropped`, and `on_resync` is called so the app can
    recover.
    `on_resync` is also called when, after a reconnect, the server starts a new connection (a hello
    with a new connection_id): events sent in between are lost and must be fetched over REST.

    Counters: `events_received`, `events_dropped`, `resyncs`, `reconnects` (connections
    re-established after the first one).
    """

    def __init__(
        self,
        url: str,
        token: str,
        on_event: EventHandler | asyncio.Queue[dict[str, Any]],
        *,
        heartbeat: float = 30.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        max_auth_failures: int = 3,
        on_resync: ResyncHandler | None = None,
        queue_size: int = 1000,
        auth_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        close_timeout: float = 2.0,
        ssl: Any = True,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = websocket_url(url)
        self._token = token
        if isinstance(on_event, asyncio.Queue):
            self._queue: asyncio.Queue[dict[str, Any]] = on_event
            self._handler: EventHandler | None = None
        else:
            self._queue = asyncio.Queue(maxsize=queue_size)
            self._handler = on_event
        self._heartbeat = heartbeat
        self._backoff = backoff
        self._max_auth_failures = max_auth_failures
        self._on_resync = on_resync
        self._auth_timeout = auth_timeout
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._ssl = ssl
        self._session = session

        self.connected = asyncio.Event()
        self.connection_id: str | None = None
        self.last_seq: int | None = None
        self.server_version: str | None = None
        self.reconnects = 0
        self.events_received = 0
        self.events_dropped = 0
        self.resyncs = 0

        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._action_seq = 0
        self._ever_connected = False
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._running = False
        self._done = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_again = False

    def __repr__(self) -> str:  # never show the token
        return f"<MattermostWebsocket {self._url} connected={self.is_connected}>"

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, deliver events and reconnect until stop(). Raises WebsocketAuthError."""
        if self._running:
            raise RuntimeError("MattermostWebsocket.run() is already running")
        self._running = True
        self._stopping = False
        self._stop_event.clear()
        self._done.clear()
        worker = None
        if self._handler is not None:
            worker = asyncio.create_task(self._work(), name="mattermost-ws-worker")
        session = self._session or aiohttp.ClientSession()
        auth_failures = 0
        failures = 0  # consecutive attempts that did not end in an authenticated connection
        try:
            while not self._stopping:
                outcome, was_authenticated = await self._connect_once(session)
                if self._stopping or outcome == _STOPPED:
                    break
                if was_authenticated:
                    auth_failures = failures = 0
                else:
                    failures += 1
                if outcome == _AUTH_FAILED:
                    auth_failures += 1
                    log.warning(
                        "Mattermost websocket authentication failed (%d/%d)",
                        auth_failures, self._max_auth_failures,
                    )
                    if auth_failures >= self._max_auth_failures:
                        raise WebsocketAuthError(
                            f"Mattermost refused the websocket token {auth_failures} times"
                        )
                delay = self._backoff_delay(failures)
                log.info("Mattermost websocket %s; reconnecting in %.2fs", outcome, delay)
                await self._sleep_unless_stopped(delay)
        finally:
            self.connected.clear()
            for task in (worker, self._resync_task):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if self._session is None:
                await session.close()
            self._running = False
            self._done.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Close with code 1000 and wait (bounded) for run() to return. Idempotent."""
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=aiohttp.WSCloseCode.OK), self._close_timeout)
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), timeout)

    async def send_action(self, action: str, data: dict[str, Any] | None = None) -> int:
        """Send a client action (e.g. "user_typing"); returns its seq. Needs a connection."""
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionError("Mattermost websocket is not connected")
        return await self._send(ws, action, data)

    # --- one connection --------------------------------------------------------------------

    async def _connect_once(self, session: aiohttp.ClientSession) -> tuple[str, bool]:
        resuming = self.connection_id is not None
        params = (
            {"connection_id": self.connection_id, "sequence_number": str((self.last_seq or 0) + 1)}
            if resuming
            else None
        )
        try:
            async with asyncio.timeout(self._connect_timeout):
                ws = await session.ws_connect(
                    self._url,
                    params=params,
                    headers={"Authorization": f"Bearer {self._token}"},
                    heartbeat=self._heartbeat,
                    max_msg_size=MAX_MESSAGE_BYTES,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._close_timeout),
                    ssl=self._ssl,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                return _AUTH_FAILED, False
            log.warning("Mattermost websocket handshake failed: %s %s", exc.status, exc.message)
            return _CONNECT_FAILED, False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("Mattermost websocket connect failed: %s", type(exc).__name__)
            return _CONNECT_FAILED, False

        self._ws = ws
        self._action_seq = 0  # the challenge is seq 1 on every connection
        authenticated = False
        try:
            if self._stopping:
                return _STOPPED, False
            challenge_seq = await self._send(
                ws, "authentication_challenge", {"token": self._token}
            )
            # With header auth the challenge gets no reply, and a resumed connection gets no
            # hello: the ping reply proves we are registered (unauthenticated sockets get nothing).
            ping_seq = await self._send(ws, "ping")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._auth_timeout
            while True:
                timeout = None if authenticated else max(0.0, deadline - loop.time())
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError:
                    log.warning("Mattermost websocket: no hello within %.1fs", self._auth_timeout)
                    return _AUTH_FAILED, False
                if msg.type is aiohttp.WSMsgType.BINARY:
                    log.debug("Mattermost websocket: ignoring a binary frame")
                    continue
                if msg.type is not aiohttp.WSMsgType.TEXT:  # CLOSE, CLOSING, CLOSED, ERROR
                    break
                verdict = self._on_text(msg.data, challenge_seq, ping_seq)
                if verdict == _AUTH_FAILED:
                    return _AUTH_FAILED, False
                if verdict == _AUTH_OK and not authenticated:
                    authenticated = True
                    self._mark_connected()
            if authenticated and not self._stopping:
                log.warning("Mattermost websocket closed (code %s)", ws.close_code)
            return self._closed_outcome(authenticated, resuming), authenticated
        except (aiohttp.ClientError, ConnectionError) as exc:
            # e.g. the challenge written to a socket the server has already closed
            log.debug("Mattermost websocket error: %s", type(exc).__name__)
            return self._closed_outcome(authenticated, resuming), authenticated
        finally:
            self.connected.clear()
            self._ws = None
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        ws.close(code=aiohttp.WSCloseCode.OK), self._close_timeout
                    )

    def _closed_outcome(self, authenticated: bool, resuming: bool) -> str:
        """Why a connection ended: a close before any sign of authentication is an auth failure."""
        if self._stopping:
            return _STOPPED
        if authenticated:
            return _LOST
        if resuming:
            # The server closes right away on a resume it rejects: start a fresh connection.
            self.connection_id = None
            return _RESUME_REJECTED
        return _AUTH_FAILED

    def _on_text(self, raw: str, challenge_seq: int, ping_seq: int) -> str | None:
        """Handle one text frame; returns _AUTH_OK / _AUTH_FAILED when it settles auth."""
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("Mattermost websocket: undecodable frame dropped")
            return None
        if not isinstance(frame, dict):
            return None
        if "seq_reply" in frame:
            return self._on_reply(frame, challenge_seq, ping_seq)
        if "event" not in frame:
            return None
        seq = frame.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        if frame["event"] == "hello":
            self._on_hello(frame)
        if frame["event"] in POST_EVENTS and isinstance(frame.get("data"), dict):
            post = decode_post(frame)
            if post is not None:
                frame["data"]["post_obj"] = post
        self.events_received += 1
        self._deliver(frame)
        return _AUTH_OK  # the server only sends events to registered, authenticated connections

    def _on_reply(self, frame: dict[str, Any], challenge_seq: int, ping_seq: int) -> str | None:
        seq_reply = frame.get("seq_reply")
        if seq_reply not in (challenge_seq, ping_seq):
            if frame.get("status") == "FAIL":
                log.warning("Mattermost websocket action %s failed: %s", seq_reply,
                            frame.get("error"))
            return None
        if frame.get("status") == "OK":
            return _AUTH_OK
        error = frame.get("error") or {}
        if seq_reply == challenge_seq or "not_authenticated" in str(error.get("id", "")):
            return _AUTH_FAILED
        return None  # e.g. a server without the ping action

    def _on_hello(self, frame: dict[str, Any]) -> None:
        data = frame.get("data") or {}
        new_id = data.get("connection_id") or None
        self.server_version = data.get("server_version") or self.server_version
        if self._ever_connected and (new_id is None or new_id != self.connection_id):
            log.info("Mattermost websocket: new server connection, events may have been missed")
            self._resync()
        self.connection_id = new_id

    def _mark_connected(self) -> None:
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self.connected.set()
        log.info("Mattermost websocket connected (connection_id=%s)", self.connection_id)

    # --- delivery --------------------------------------------------------------------------

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.events_dropped += 1
            log.warning(
                "Mattermost websocket queue full (%d): dropped a %s event",
                self._queue.maxsize, event.get("event"),
            )
            self._resync()

    async def _work(self) -> None:
        assert self._handler is not None
        while True:
            event = await self._queue.get()
            try:
                result = self._handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("Mattermost event handler failed on a %s event", event.get("event"))
            finally:
                self._queue.task_done()

    def _resync(self) -> None:
        """Run on_resync in its own task; a request during a run makes it run once more."""
        if self._on_resync is None:
            return
        if self._resync_task is not None and not self._resync_task.done():
            self._resync_again = True
            return
        self._resync_task = asyncio.create_task(self._run_resync(), name="mattermost-ws-resync")

    async def _run_resync(self) -> None:
        assert self._on_resync is not None
        self._resync_again = True
        while self._resync_again:
            self._resync_again = False
            self.resyncs += 1
            try:
                result = self._on_resync()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("Mattermost websocket on_resync failed")

    # --- helpers ---------------------------------------------------------------------------

    async def _send(
        self, ws: aiohttp.ClientWebSocketResponse, action: str, data: dict[str, Any] | None = None
    ) -> int:
        self._action_seq += 1
        frame: dict[str, Any] = {"seq": self._action_seq, "action": action}
        if data is not None:
            frame["data"] = data
        await ws.send_str(json.dumps(frame))
        return self._action_seq

    def _backoff_delay(self, failures: int) -> float:
        """Exponential backoff with jitter; the first retry after a working connection is quick."""
        base, cap = self._backoff
        ceiling = min(cap, base * 2 ** max(0, failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _sleep_unless_stopped(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), delay)
