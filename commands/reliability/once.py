"""Post a ticket's message once, whatever retries, crashes or other replicas do.

A step (e.g. ticket 12's card) is claimed in the database (`claims` kind `outbound`) and the claim
is committed *before* the post is sent, so two processes retrying the same ticket cannot both
post it. The claim's value is a generation: `<iso time>|<nonce>` while a process is sending,
`released|<nonce>` after a failure.

- The sender that wins a fresh claim posts at once (the common case costs one INSERT).
- A definite failure (Mattermost answered 4xx, 429 or 503: nothing was created) releases the
  claim; an ambiguous one (no answer, 502/504: the post may exist) marks it `released|…`.
- Whoever finds the claim held first looks in the target channel for a post of the bot carrying
  `supportdesk_ticket == id` and the step's `supportdesk_role`: a post made just before a crash
  (kill -9 between the post and recording it) is adopted instead of posted again.
- Found nothing: a released claim, or one older than `LEASE` (its sender died or could not give
  it back), is taken over through a second claim keyed by the generation it replaces (only one taker wins); a live
  claim means another process is sending right now: `InProgress` (a GatewayError), retry later.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from commands.deps import Deps
from commands.ports import GatewayError

log = logging.getLogger(__name__)

KIND = "outbound"
TAKEOVER = "outbound-takeover"
LEASE = timedelta(minutes=5)  # longer than one post's REST retries can take (~3.5 min)
LOOKBACK = timedelta(minutes=10)  # how far before the ticket's creation its posts are looked for
RELEASED = "released"
DEFINITE_FAILURES = frozenset({429, 503})  # the server answered: nothing was created


class InProgress(GatewayError):
    """Another process holds the step's claim and is sending it now: retry later."""

    def __init__(self, key: str) -> None:
        super().__init__(409, "supportdesk.outbound.in_progress",
                         f"{key} is being sent by another process")


def _generation(now: datetime) -> str:
    return f"{now.isoformat()}|{secrets.token_hex(4)}"


def _stale(value: str | None, now: datetime) -> bool:
    if value is None or value.startswith(RELEASED):
        return True
    try:
        since = datetime.fromisoformat(value.partition("|")[0])
    except ValueError:
        return True
    return now - since >= LEASE


def _definite(exc: GatewayError) -> bool:
    return exc.status in DEFINITE_FAILURES or 400 <= exc.status < 500


async def find_own_post(deps: Deps, channel_id: str, ticket_id: int, role: str,
                        since: datetime) -> dict[str, Any] | None:
    """The bot's root post in `channel_id` made for this ticket and role, if any."""
    since_ms = int((since - LOOKBACK).timestamp() * 1000)
    posts = await deps.gateway.get_channel_posts_since(channel_id, max(0, since_ms))
    for post in posts:
        props = post.get("props") or {}
        if (props.get("supportdesk_ticket") == ticket_id
                and props.get("supportdesk_role") == role
                and not post.get("root_id") and not post.get("delete_at")
                and post.get("user_id") in (deps.desk.bot_user_id, None, "")):
            return post
    return None


async def post_once(
    deps: Deps, *, ticket_id: int, step: str, channel_id: str, role: str, since: datetime,
    send: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Run `send` (which must post with props supportdesk_ticket/supportdesk_role = ticket_id/role
    as a root post in `channel_id`) unless this step was already posted; return the post."""
    key = f"{ticket_id}:{step}"
    now = deps.clock()
    mine = _generation(now)
    async with deps.uow() as uow:
        won = await uow.claims.claim(KIND, key, mine)
        held = None if won else await uow.claims.get(KIND, key)
        await uow.commit()
    if not won:
        found = await find_own_post(deps, channel_id, ticket_id, role, since)
        if found is not None:
            log.info("%s was already posted (%s): recorded, not posted again", key, found["id"])
            return found
        if not _stale(held, now):
            raise InProgress(key)
        async with deps.uow() as uow:
            won = await uow.claims.claim(TAKEOVER, f"{key}@{held}")
            if won:
                await uow.claims.set(KIND, key, mine)
            await uow.commit()
        if not won:
            raise InProgress(key)
        log.info("%s: taking over an unfinished send (%s)", key, held)
    try:
        return await send()
    except GatewayError as exc:
        await _give_back(deps, key, definite=_definite(exc))
        raise


async def _give_back(deps: Deps, key: str, *, definite: bool) -> None:
    """Release the claim after a failed send; if the database refuses too (SQLite busy, a
    restart), the claim stays and is taken over after LEASE: the send's error is what counts."""
    try:
        async with deps.uow() as uow:
            if definite:
                await uow.claims.release(KIND, key)
            else:
                await uow.claims.set(KIND, key, f"{RELEASED}|{secrets.token_hex(4)}")
            await uow.commit()
    except Exception as exc:  # noqa: BLE001 - the storage error type is not ours to import
        log.warning("%s: could not release the claim (%s); it expires after %s",
                    key, type(exc).__name__, LEASE)
