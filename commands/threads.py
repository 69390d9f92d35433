"""Messages people write: in a ticket's staff thread (notes, `!reply`) or its customer thread."""

from __future__ import annotations

import logging
from typing import Any

from commands import cards, conversation, messages, outbox, replies, tickets
from commands.deps import Deps
from commands.ports import UnitOfWork
from workflows import lifecycle
from workflows.lifecycle import Action
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.outbox import Outbound
from workflows.permissions import Permission, Role, allowed

log = logging.getLogger(__name__)

ACK_EMOJI = "white_check_mark"


async def on_posted(post: dict[str, Any], channel_type: str, deps: Deps) -> None:
    """Route one `posted` event. Whatever it leads to is stored with a claim on the post id in
    the same transaction, so it happens once even if two replicas (or a resync) both see it."""
    if post.get("user_id") == deps.desk.bot_user_id or str(post.get("type", "")).startswith("system_"):
        return
    if post.get("channel_id") == deps.desk.support_channel_id and post.get("root_id"):
        await on_staff_thread(post, deps)
    elif channel_type == "D":
        await on_direct_message(post, deps)


def _once(post: dict[str, Any]) -> tuple[str, str]:
    return ("post", str(post["id"]))


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
        await deliver_reply(deps, ticket, author, body, post.get("file_ids") or (),
                            source_post_id=str(post["id"]))
        return
    if allowed(roles, Permission.NOTE):
        await tickets.record(deps, TicketEvent(ticket.id, EventKind.INTERNAL_NOTE, now,
                                               actor_id=author, data={"post_id": post["id"],
                                                                      "text": message[:4000]}),
                             claim=_once(post))


async def deliver_reply(deps: Deps, ticket: Ticket, author_id: str, body: str,
                        file_ids: Any = (), *, source_post_id: str | None = None,
                        staff_copy: str | None = None) -> int:
    """Log a public reply (the SLA clocks read PUBLIC_REPLY events) and queue it for every
    customer thread in the same transaction; a reply written in the staff thread (its post id
    given) is handled once and acknowledged with a reaction."""
    assert ticket.id is not None
    author = replies.person(await deps.gateway.get_user(author_id))
    key = f"t{ticket.id}:reply:{source_post_id}" if source_post_id else messages.unique(f"t{ticket.id}:reply")
    reached = 0

    async def outgoing(uow: UnitOfWork, current: Ticket) -> list[Outbound]:
        nonlocal reached
        queued = await conversation.public_reply(uow, current, author, body, key=key,
                                                 file_ids=list(file_ids))
        reached = len(queued)
        if source_post_id:
            queued.append(messages.reaction(current, source_post_id, ACK_EMOJI))
        if staff_copy:  # sent from a command or dialog: the staff thread shows what went out
            queued.append(conversation.staff_note(current, staff_copy, role="reply_copy",
                                                  key=f"{key}:copy"))
        return queued

    await tickets.record(deps, TicketEvent(ticket.id, EventKind.PUBLIC_REPLY, deps.clock(),
                                           actor_id=author_id, data={"text": body[:4000]}),
                         ticket=ticket, outgoing=outgoing,
                         claim=("post", source_post_id) if source_post_id else None)
    return reached


async def on_direct_message(post: dict[str, Any], deps: Deps) -> None:
    """A customer (or CC) writing to the bot: into the ticket if it is in a ticket's thread."""
    root_id = str(post.get("root_id") or "")
    ticket = await _ticket_for_customer_root(deps, root_id) if root_id else None
    author = post["user_id"]
    if ticket is None or ticket.id is None:
        await _answer_once(deps, post, messages.in_channel(
            str(post["channel_id"]), replies.not_in_a_ticket_thread(), root_id=root_id,
            key=f"notinticket:{post['id']}"))
        return
    roles = await deps.directory.roles(author, ticket)
    if not allowed(roles, Permission.CUSTOMER_MESSAGE):
        return
    if ticket.status is Status.CLOSED:
        await offer_follow_up(deps, ticket, post)
        return
    await _take_customer_message(deps, ticket, post, cc=Role.CUSTOMER_OWNER not in roles)


async def _answer_once(deps: Deps, post: dict[str, Any], answer: Outbound) -> None:
    async with deps.uow() as uow:
        if not await uow.claims.claim(*_once(post)):
            return
        await outbox.queue(deps, uow, answer)
        await uow.commit()
    await outbox.flush(deps, [answer.lane])


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

    caused: list[TicketEvent] = []

    def customer_replied(current: Ticket) -> tuple[Ticket, list[TicketEvent]]:
        updated, events = lifecycle.apply(current, Action.CUSTOMER_REPLIED, actor_id=author, at=now)
        caused[:] = events
        return updated, [event, *events]

    name = replies.person(await deps.gateway.get_user(author))

    async def relay(uow: UnitOfWork, updated: Ticket) -> list[Outbound]:
        text_ = replies.customer_wrote(name, message, cc=cc)
        if any(e.kind is EventKind.REOPENED for e in caused):
            text_ += "\n\n" + replies.reopened_note(updated, name)
        return [conversation.staff_note(updated, text_, role="customer_message",
                                        key=f"t{ticket.id}:relay:{post['id']}",
                                        file_ids=post.get("file_ids") or ())]

    await tickets.change(deps, ticket.id, customer_replied, claim=_once(post), outgoing=relay)


async def offer_follow_up(deps: Deps, ticket: Ticket, post: dict[str, Any]) -> None:
    """Closed is final: offer one click to open a follow-up ticket linked to the closed one."""
    assert ticket.id is not None
    props = {"attachments": [{
        "text": "", "actions": [cards.button(deps, "followup", "Open a follow-up ticket", ticket.id,
                                             "primary", u=post["user_id"])],
    }], "supportdesk_role": "follow_up_offer"}
    await _answer_once(deps, post, messages.in_channel(
        str(post["channel_id"]), replies.closed_ticket_follow_up(ticket),
        root_id=str(post.get("root_id") or ""), props=props, key=f"followup:{post['id']}",
        ticket_id=ticket.id))
