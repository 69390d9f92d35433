"""Messages people write: in a ticket's staff thread (notes, `!reply`) or its customer thread."""

from __future__ import annotations

import logging
from typing import Any

from commands import cards, conversation, replies, tickets
from commands.deps import Deps
from workflows import lifecycle
from workflows.lifecycle import Action
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.permissions import Permission, Role, allowed

log = logging.getLogger(__name__)

ACK_EMOJI = "white_check_mark"


async def on_posted(post: dict[str, Any], channel_type: str, deps: Deps) -> None:
    """Route one `posted` event; each post is handled once, even if two replicas both see it."""
    if post.get("user_id") == deps.desk.bot_user_id or str(post.get("type", "")).startswith("system_"):
        return
    staff_thread = post.get("channel_id") == deps.desk.support_channel_id and bool(post.get("root_id"))
    async with deps.uow() as uow:
        first = await uow.claims.claim("post", str(post["id"]))
        await uow.commit()
    if not first:
        return
    if staff_thread:
        await on_staff_thread(post, deps)
    elif channel_type == "D":
        await on_direct_message(post, deps)


async def on_staff_thread(post: dict[str, Any], deps: Deps) -> None:
    """Staff threads are internal: a note, unless it starts with the reply prefix."""
    async with deps.uow() as uow:
        ticket = await uow.tickets.get_by_card_post(str(post["root_id"]))
    if ticket is None or ticket.id is None:
        return
    author = post["user_id"]
    roles = await deps.directory.roles(author, ticket)
    message = str(post.get("message", ""))
    prefix = deps.policy.reply_prefix
    now = deps.clock()
    if prefix and message.lstrip().lower().startswith(prefix.lower()):
        if not allowed(roles, Permission.REPLY_PUBLIC):
            return
        body = message.lstrip()[len(prefix):].strip()
        await deliver_reply(deps, ticket, author, body, post.get("file_ids") or ())
        await deps.gateway.add_reaction(str(post["id"]), ACK_EMOJI)
        return
    if allowed(roles, Permission.NOTE):
        await tickets.record(deps, TicketEvent(ticket.id, EventKind.INTERNAL_NOTE, now,
                                               actor_id=author, data={"post_id": post["id"],
                                                                      "text": message[:4000]}))


async def deliver_reply(deps: Deps, ticket: Ticket, author_id: str, body: str,
                        file_ids: Any = ()) -> int:
    """Send a public reply and log it (the SLA clocks read PUBLIC_REPLY events)."""
    assert ticket.id is not None
    author = replies.person(await deps.gateway.get_user(author_id))
    reached = await conversation.send_public_reply(deps, ticket, author, body, list(file_ids))
    await tickets.record(deps, TicketEvent(ticket.id, EventKind.PUBLIC_REPLY, deps.clock(),
                                           actor_id=author_id, data={"text": body[:4000]}))
    return reached


async def on_direct_message(post: dict[str, Any], deps: Deps) -> None:
    """A customer (or CC) writing to the bot: into the ticket if it is in a ticket's thread."""
    root_id = str(post.get("root_id") or "")
    ticket = await _ticket_for_customer_root(deps, root_id) if root_id else None
    author = post["user_id"]
    if ticket is None or ticket.id is None:
        await deps.gateway.create_post(str(post["channel_id"]), replies.not_in_a_ticket_thread(),
                                       root_id=root_id)
        return
    roles = await deps.directory.roles(author, ticket)
    if not allowed(roles, Permission.CUSTOMER_MESSAGE):
        return
    if ticket.status is Status.CLOSED:
        await offer_follow_up(deps, ticket, post)
        return
    await _take_customer_message(deps, ticket, post, cc=Role.CUSTOMER_OWNER not in roles)


async def _ticket_for_customer_root(deps: Deps, root_id: str) -> Ticket | None:
    async with deps.uow() as uow:
        ticket = await uow.tickets.get_by_customer_root(root_id)
        if ticket is None and (key := await uow.claims.get("cc_root", root_id)):
            ticket = await uow.tickets.get(int(key.partition(":")[0]))
    return ticket


async def _take_customer_message(deps: Deps, ticket: Ticket, post: dict[str, Any], *, cc: bool) -> None:
    assert ticket.id is not None
    now = deps.clock()
    author = post["user_id"]
    message = str(post.get("message", ""))
    event = TicketEvent(ticket.id, EventKind.CUSTOMER_MESSAGE, now, actor_id=author,
                        data={"post_id": post["id"], "text": message[:4000]})

    def customer_replied(current: Ticket) -> tuple[Ticket, list[TicketEvent]]:
        updated, events = lifecycle.apply(current, Action.CUSTOMER_REPLIED, actor_id=author, at=now)
        return updated, [event, *events]

    updated, events = await tickets.change(deps, ticket.id, customer_replied)
    name = replies.person(await deps.gateway.get_user(author))
    text_ = replies.customer_wrote(name, message, cc=cc)
    if any(e.kind is EventKind.REOPENED for e in events):
        text_ += "\n\n" + replies.reopened_note(updated, name)
    await conversation.post_to_staff_thread(deps, updated, text_, post.get("file_ids") or (),
                                            role="customer_message")


async def offer_follow_up(deps: Deps, ticket: Ticket, post: dict[str, Any]) -> None:
    """Closed is final: offer one click to open a follow-up ticket linked to the closed one."""
    assert ticket.id is not None
    props = {"attachments": [{
        "text": "", "actions": [cards.button(deps, "followup", "Open a follow-up ticket", ticket.id,
                                             "primary", u=post["user_id"])],
    }], "supportdesk_ticket": ticket.id}
    await deps.gateway.create_post(str(post["channel_id"]), replies.closed_ticket_follow_up(ticket),
                                   root_id=str(post.get("root_id") or ""), props=props)
