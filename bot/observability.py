"""Request ids and ticket numbers on every log line; the per-callback middleware; /readyz.

The middleware gives each HTTP callback a request id (Mattermost's X-Request-ID when it sends
one, else a fresh one), times it into the callback latency histogram, and echoes the id back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from commands import logcontext

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TICKET_IN_TEXT = re.compile(r"#(\d{1,9})\b")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ContextFilter(logging.Filter):
    """A handler filter: adds `request_id` and `ticket` ("-" when unknown) to every record.

    The ticket comes from the context, else from a "#123" in the message (older log calls).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = logcontext.request_id.get() or "-"
        ticket = logcontext.ticket_id.get()
        if ticket is None:
            try:
                found = _TICKET_IN_TEXT.search(record.getMessage())
            except Exception:  # a malformed log call must not lose the line
                found = None
            ticket = int(found.group(1)) if found else None
        record.ticket = f"#{ticket}" if ticket is not None else "-"
        return True


CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s %(ticket)s]: %(message)s"


def route_label(request: web.Request) -> str:
    """The registered route's path (never the raw path: unbounded label values)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_request_context(observe: Callable[[str, float], None] | None) -> Any:
    """Middleware: a request id for the callback, its latency observed by route when it ends."""

    @web.middleware
    async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SAFE_ID.match(given) else logcontext.new_request_id("http-")
        started = time.perf_counter()
        with logcontext.serving(rid):
            try:
                response = await handler(request)
            finally:
                if observe is not None:
                    observe(route_label(request), time.perf_counter() - started)
        response.headers["X-Request-ID"] = rid
        return response

    return request_context


async def readyz(request: web.Request, bot: Any) -> web.Response:
    """Ready: the Mattermost websocket is connected and the database answers (else 503)."""
    health = await bot.health()
    ok = bool(health.get("mattermost")) and bool(health.get("database"))
    body = {"status": "ready" if ok else "not ready", **health}
    return web.json_response(body, status=200 if ok else 503)
