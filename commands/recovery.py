"""Recover what the websocket missed: posts written in ticket threads while the bot was away.

Mattermost does not replay events to a new websocket session (mattermost-protocol.md §4.6), so
after a gap the bot reads the channels where ticket conversations happen since the last post it
saw. `threads.on_posted` claims each post id, so a post seen twice is still handled once.
"""

from __future__ import annotations

import logging
from typing import Any

from commands import threads
from commands.deps import Deps
from commands.ports import GatewayError, TicketQuery
from workflows.model import Status

log = logging.getLogger(__name__)

OPEN = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.SOLVED, Status.CLOSED})
MARGIN_MS = 5 * 60 * 1000  # clocks differ; re-reading a few minutes costs little (posts are claimed)


async def recover(deps: Deps, since_ms: int) -> int:
    """Feed every post since `since_ms` in the support channel and customers' DMs to the workflow."""
    since = max(0, since_ms - MARGIN_MS)
    channels: dict[str, str] = {deps.desk.support_channel_id: "O"}
    async with deps.uow() as uow:
        recent = await uow.tickets.find(TicketQuery(statuses=OPEN - {Status.CLOSED}, limit=1000))
        for ticket in recent:
            if ticket.customer_channel_id:
                channels[ticket.customer_channel_id] = "D"
        for _, where in await uow.claims.by_kind("cc_thread", limit=5000):
            channels.setdefault(where.partition(":")[0], "D")
    handled = 0
    for channel_id, channel_type in channels.items():
        try:
            posts = await deps.gateway.get_channel_posts_since(channel_id, since)
        except GatewayError as exc:
            log.warning("recovering posts of %s failed: %s", channel_id, exc)
            continue
        for post in sorted(posts, key=_created):
            await threads.on_posted(post, channel_type, deps)
            handled += 1
    log.info("websocket gap recovery: %s post(s) in %s channel(s) re-read", handled, len(channels))
    return handled


CURSOR = ("cursor", "websocket")  # claims row: create_at (ms) of the newest post seen


async def saved_cursor(deps: Deps) -> int:
    """Where the last run stopped reading (0: never ran), so a restart re-reads what was
    written while no bot was connected (a crash, a deploy)."""
    async with deps.uow() as uow:
        value = await uow.claims.get(*CURSOR)
    return int(value) if value and value.isdigit() else 0


async def save_cursor(deps: Deps, post_ms: int) -> None:
    async with deps.uow() as uow:
        await uow.claims.set(*CURSOR, str(post_ms))
        await uow.commit()


def _created(post: dict[str, Any]) -> int:
    return int(post.get("create_at", 0))
