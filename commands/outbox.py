"""Deliver the outbox: every message the desk sends, once, in order per ticket, whatever fails.

Use cases queue `Outbound` messages in the transaction that makes the change (`queue`), commit,
then call `flush` (or leave it to the delivery loop and the `outbox` job). Delivery leases the head
of each lane, sends it, and records the post in the same transaction as the feature's `after`
effect (a card's post id on the ticket). A message whose previous attempt may have reached
Mattermost (no answer, a crash, a lease that ran out) is first looked for in its channel by its
`supportdesk_key` prop, and adopted instead of posted again.
"""

from __future__ import annotations

import asyncio
import base64  # carried uploads (issue 8)
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from commands.deps import Deps
from commands.ports import GatewayError, UnitOfWork, WebhookError
from workflows.outbox import (
    DM, KEEP_SENT, LEASE, Action, Outbound, after_failure, referenced_key,
)

log = logging.getLogger(__name__)

KEY_PROP = "supportdesk_key"
BATCH = 16  # lanes delivered side by side in one round
LOOKBACK_MS = 60_000  # an earlier attempt's post is looked for from a minute before queueing
POST_MAX = 16383  # Mattermost refuses longer posts (runes)
TRUNCATED = "\n\n_(cut: the message was too long to relay in full)_"

Renderer = Callable[[Deps, Outbound], Awaitable[tuple[str, dict[str, Any]] | None]]
Effect = Callable[[Deps, UnitOfWork, Outbound, str, str], Awaitable[None]]
RENDERERS: dict[str, Renderer] = {}
EFFECTS: dict[str, Effect] = {}


def renderer(name: str) -> Callable[[Renderer], Renderer]:
    """Register how messages with `render=name` are built at delivery (None: nothing to send)."""
    def register(fn: Renderer) -> Renderer:
        RENDERERS[name] = fn
        return fn
    return register


def effect(name: str) -> Callable[[Effect], Effect]:
    """Register what `after=name` records once its message is sent: fn(deps, uow, message,
    channel_id, post_id), run in the transaction that marks the message sent."""
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        return fn
    return register


async def queue(deps: Deps, uow: UnitOfWork, *messages: Outbound) -> int:
    """Queue messages in the caller's transaction; a key queued before is kept once."""
    now = deps.clock()
    added = 0
    for message in messages:
        added += await uow.outbox.add(message, now)
    return added


SENT, RETRY, GAVE_UP = "sent", "retry", "gave up"  # how one delivery attempt ended


class _Later(Exception):
    """A referenced message is not delivered yet (another lane): try again shortly."""


class _Never(Exception):
    """A referenced message will never be delivered: neither will this one."""


async def flush(deps: Deps, lanes: Sequence[str] | None = None) -> int:
    """Deliver what is due now (only these lanes, if given) until nothing is left; returns how
    many were sent. Failures stay queued with their next attempt time; this never raises."""
    sent = 0
    try:
        while True:
            now = deps.clock()
            async with deps.uow() as uow:
                leased = await uow.outbox.lease_heads(
                    now=now, until=now + LEASE, holder=deps.instance, limit=BATCH, lanes=lanes)
                await uow.commit()
            if not leased:
                return sent
            runs = await asyncio.gather(*(_run_lane(deps, item) for item in leased))
            sent += sum(n for n, _ in runs)
            if all(last is RETRY for _, last in runs):
                return sent  # everything failed: the retry times decide when to come back
    except Exception:  # noqa: BLE001 - the database may be away; delivery resumes later
        log.exception("outbox delivery stopped; it resumes on the next run")
        return sent


def flush_soon(deps: Deps, lanes: Sequence[str] | None = None) -> None:
    """Deliver in the background (after an HTTP answer); the `outbox` job catches up on failures."""
    deps.background.spawn(flush(deps, lanes), name=f"outbox-{','.join(lanes or ['*'])[:40]}")


async def deliver_due(deps: Deps, now: Any = None) -> int:
    """The scheduled job: everything due, every lane (retries, and work a dead replica left)."""
    return await flush(deps)


async def prune(deps: Deps, now: datetime) -> int:
    """The daily clean-up: forget messages delivered more than KEEP_SENT ago."""
    async with deps.uow() as uow:
        pruned = await uow.outbox.prune(now - KEEP_SENT)
        await uow.commit()
    return pruned


async def release_leases(deps: Deps, *, everyone: bool = False) -> int:
    """Give back this bot's leases (graceful stop), or all of them (SQLite start-up: no other
    process can be delivering), so what was in flight is retried at once rather than after LEASE."""
    async with deps.uow() as uow:
        released = await uow.outbox.release_leases(None if everyone else deps.instance)
        await uow.commit()
    return released


async def _run_lane(deps: Deps, item: Any) -> tuple[int, str]:
    """Deliver `item`, then its lane's next messages while they are due: each is leased in the
    transaction that records the one before (a transaction fewer per message than leasing
    apart). How many were sent, and how the last attempt ended."""
    sent = 0
    while True:
        result, item = await _deliver(deps, item)
        sent += result is SENT
        if item is None:
            return sent, result


async def _deliver(deps: Deps, item: Any) -> tuple[str, Any]:
    """One attempt: how it ended, and the lane's next message if it is now leased to us."""
    message: Outbound = item.message
    try:
        channel_id, root_id = await _resolve(deps, message)
        rendered = await _render(deps, message)
        if rendered is None:
            return await _finish(deps, item, channel_id, "")
        post_id = await _send(deps, item, channel_id, root_id, *rendered)
    except GatewayError as exc:
        return await _failed(deps, item, exc.status, str(exc), exc.retry_after), None
    except WebhookError as exc:  # the pager: 4xx is given up, anything else is retried
        return await _failed(deps, item, exc.status, f"webhook: {exc}", None), None
    except _Later as exc:
        return await _failed(deps, item, 0, f"waiting for {exc}", None), None
    except _Never as exc:
        return await _failed(deps, item, 400, f"{exc} was never delivered", None), None
    except Exception as exc:  # noqa: BLE001 - a bug in a renderer must not stop the queue
        log.exception("outbox %s: delivery failed", message.key)
        return await _failed(deps, item, 0, f"{type(exc).__name__}: {exc}", None), None
    return await _finish(deps, item, channel_id, post_id)


async def _resolve(deps: Deps, message: Outbound) -> tuple[str, str]:
    channel, root = message.channel, message.root
    if referenced_key(channel) is not None or referenced_key(root) is not None:
        async with deps.uow() as uow:
            channel = await _produced(uow, channel, "channel")
            root = await _produced(uow, root, "post")
    if channel.startswith(DM):
        channel = await deps.gateway.direct_channel(channel[len(DM):])
    return CHANNELS.get(channel, lambda d: channel)(deps), root


# The desk's own channels by role, so a queued message follows a channel changed in bot.toml.
CHANNELS: dict[str, Callable[[Deps], str]] = {
    "support": lambda d: d.desk.support_channel_id,
    "standup": lambda d: d.desk.standup_channel_id,
    "engineering": lambda d: d.desk.engineering_channel_id,
}


async def _produced(uow: UnitOfWork, value: str, part: str) -> str:
    key = referenced_key(value)
    if key is None:
        return value
    produced = await uow.outbox.produced(key)
    if produced is None:
        raise _Later(key)
    if produced is False:
        raise _Never(key)
    return produced.channel_id if part == "channel" else produced.post_id


async def _render(deps: Deps, message: Outbound) -> tuple[str, dict[str, Any]] | None:
    if not message.render:
        return message.message, dict(message.props)
    built = await RENDERERS[message.render](deps, message)
    if built is None:
        return None
    text, props = built
    return text, {**props, **message.props}


async def _send(deps: Deps, item: Any, channel_id: str, root_id: str, text: str,
                props: dict[str, Any]) -> str:
    message: Outbound = item.message
    if message.action is Action.WEBHOOK:  # at least once: the pager dedups by its own key
        webhook = deps.oncall.webhook if deps.oncall is not None else None
        if webhook is None:
            raise WebhookError("no webhook is configured any more", 410)
        await webhook.send(message.args["event"])
        return ""
    if message.action is Action.UPDATE:
        await deps.gateway.update_post(root_id, fit(text), props)
        return root_id
    if message.action is Action.REACT:
        await deps.gateway.add_reaction(root_id, text)
        return root_id
    props = {**props, KEY_PROP: message.key}
    if message.ticket_id is not None:
        props.setdefault("supportdesk_ticket", message.ticket_id)
    if item.attempts > 1:  # an earlier attempt may have posted before failing or dying
        found = await _find_own_post(deps, channel_id, message.key, item.created_at)
        if found is not None:
            log.info("outbox %s was already posted (%s): recorded, not posted again",
                     message.key, found["id"])
            return str(found["id"])
    file_ids, skipped = await copy_files(deps, message.files, channel_id)
    uploaded, refused = await upload_carried(deps, message, channel_id)  # summary chart (issue 8)
    file_ids, skipped = file_ids + uploaded, skipped + refused
    if skipped:
        from commands import replies  # local: replies imports much of the desk
        text += "\n\n" + replies.files_skipped(skipped)
    post = await deps.gateway.create_post(channel_id, fit(text), root_id=root_id, props=props,
                                          file_ids=file_ids)
    return str(post["id"])


def fit(message: str) -> str:
    """Mattermost refuses posts over 16383 runes: cut what we send, and say so."""
    if len(message) <= POST_MAX:
        return message
    return message[: POST_MAX - len(TRUNCATED)] + TRUNCATED


async def _find_own_post(deps: Deps, channel_id: str, key: str, since: Any) -> dict[str, Any] | None:
    since_ms = max(0, int(since.timestamp() * 1000) - LOOKBACK_MS)
    for post in await deps.gateway.get_channel_posts_since(channel_id, since_ms):
        props = post.get("props") or {}
        if (props.get(KEY_PROP) == key and not post.get("delete_at")
                and post.get("user_id") in (deps.desk.bot_user_id, None, "")):
            return post
    return None


async def copy_files(deps: Deps, file_ids: Sequence[str], channel_id: str) -> tuple[list[str], int]:
    """Copy files into another channel (file ids are per channel): new ids, and how many were
    skipped (over the relay limits, or unreadable)."""
    new_ids: list[str] = []
    skipped = max(0, len(file_ids) - deps.policy.max_relay_files)
    for file_id in list(file_ids)[: deps.policy.max_relay_files]:
        try:
            info = await deps.gateway.get_file_info(file_id)
            if int(info.get("size", 0)) > deps.policy.max_relay_bytes:
                skipped += 1
                continue
            data = await deps.gateway.get_file(file_id)
            new_ids.append(await deps.gateway.upload_file(channel_id, str(info.get("name", "file")),
                                                          data))
        except GatewayError as exc:
            if exc.retryable:
                raise  # Mattermost is away: the whole message waits, files included
            log.warning("copying file %s failed: %s", file_id, exc)
            skipped += 1
    return new_ids, skipped


# --- carried uploads (issue 8, added for the summary chart): generic, for any feature ----------
UPLOAD = "upload"  # Outbound.args["upload"]: [{"name": "chart.png", "b64": "<base64 bytes>"}]


def carry(name: str, data: bytes) -> dict[str, Any]:
    """A file for Outbound.args["upload"]: made only now (a chart), so it travels in the
    message and is uploaded into the target channel at each posting attempt (keep it small)."""
    return {"name": name, "b64": base64.b64encode(data).decode("ascii")}


async def upload_carried(deps: Deps, message: Outbound,
                         channel_id: str) -> tuple[list[str], int]:
    """Upload the files the message carries: their new ids, and how many Mattermost refused
    for good (the post goes out without them). A retryable failure fails the attempt; an upload
    whose post then fails stays unattached in Mattermost (the retry uploads again)."""
    new_ids: list[str] = []
    refused = 0
    for carried in message.args.get(UPLOAD) or ():
        name = str(carried.get("name") or "file")
        try:
            data = base64.b64decode(str(carried.get("b64") or ""))
            new_ids.append(await deps.gateway.upload_file(channel_id, name, data))
        except GatewayError as exc:
            if exc.retryable:
                raise
            log.warning("outbox %s: uploading %s failed: %s", message.key, name, exc)
            refused += 1
    return new_ids, refused
# --- end carried uploads ------------------------------------------------------------------------


async def _finish(deps: Deps, item: Any, channel_id: str, post_id: str) -> tuple[str, Any]:
    """Record the message sent (and its effect), and lease its lane's next message."""
    message: Outbound = item.message
    try:
        async with deps.uow() as uow:
            now = deps.clock()
            if not await uow.outbox.sent(item.id, deps.instance, now,
                                         channel_id=channel_id, post_id=post_id):
                log.warning("outbox %s: lease lost before recording; the taker will find the post",
                            message.key)
                return RETRY, None
            if message.after:
                await EFFECTS[message.after](deps, uow, message, channel_id, post_id)
            following = await uow.outbox.lease_heads(now=now, until=now + LEASE,
                                                     holder=deps.instance, limit=1,
                                                     lanes=[message.lane])
            await uow.commit()
    except Exception:  # noqa: BLE001 - the lease runs out and the post is adopted then
        log.exception("outbox %s: sent, but recording it failed", message.key)
        return RETRY, None
    return SENT, (following[0] if following else None)


async def _failed(deps: Deps, item: Any, status: int, error: str, retry_after: float | None) -> str:
    message: Outbound = item.message
    now = deps.clock()
    at = after_failure(status, item.attempts, now, retry_after)
    try:
        async with deps.uow() as uow:
            if at is None:
                await uow.outbox.dead(item.id, deps.instance, now, error)
                log.error("outbox %s: Mattermost refused it for good (%s); moving on",
                          message.key, error)
            else:
                await uow.outbox.retry(item.id, deps.instance, at, error)
                log.warning("outbox %s: attempt %s failed (%s); next at %s",
                            message.key, item.attempts, error, at.isoformat())
            await uow.commit()
    except Exception:  # noqa: BLE001 - the lease runs out and the message is retried then
        log.exception("outbox %s: recording the failure failed", message.key)
    return RETRY if at is not None else GAVE_UP
