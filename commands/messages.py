"""What a ticket sends, as outbox messages: its card, the customer's and CCs' threads, the staff
thread. All of one ticket share the lane `t<id>`, so they reach Mattermost in the order queued.

A ticket's card and thread roots may not exist yet when a message for them is queued (Mattermost
was down at intake): such messages name them by reference (`@t12:card`) and are resolved at
delivery, after the card itself went out.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from commands import cards, outbox, replies
from commands.deps import Deps
from commands.ports import UnitOfWork
from workflows.model import EventKind, Ticket, TicketEvent
from workflows.outbox import DM, Action, Outbound, ref, ticket_lane


def _id(ticket: Ticket) -> int:
    assert ticket.id is not None, "a ticket is stored before it sends anything"
    return ticket.id


def card_key(ticket_id: int) -> str:
    return f"t{ticket_id}:card"


def customer_root_key(ticket_id: int) -> str:
    return f"t{ticket_id}:customer_root"


def cc_key(ticket_id: int, user_id: str) -> str:
    return f"t{ticket_id}:cc:{user_id}"


def unique(prefix: str) -> str:
    """A key for a message that is one of a kind (a reply, a note): the prefix plus a nonce."""
    return f"{prefix}:{secrets.token_hex(6)}"


# --- announcing a new ticket --------------------------------------------------------------------
def announcement(ticket: Ticket, requester_name: str) -> list[Outbound]:
    """The card in ~Customer Support, the requester's thread root, one notice per CC."""
    tid, lane = _id(ticket), ticket_lane(_id(ticket))
    messages = [
        Outbound(card_key(tid), lane, channel="support", render="card", after="card",
                 props={"supportdesk_role": "card"}, args={"ticket": tid}, ticket_id=tid),
        Outbound(customer_root_key(tid), lane, channel=DM + ticket.requester.user_id,
                 message=replies.requester_confirmation(ticket), after="customer_root",
                 props={"supportdesk_role": "customer_root"}, ticket_id=tid),
    ]
    for user_id in ticket.form.cc_user_ids:
        messages.append(Outbound(
            cc_key(tid, user_id), lane, channel=DM + user_id,
            message=replies.cc_notice(ticket, requester_name=requester_name), after="cc_root",
            props={"supportdesk_role": "cc_notice"}, args={"user": user_id}, ticket_id=tid))
    return messages


@outbox.renderer("card")
async def _render_card(deps: Deps, message: Outbound) -> tuple[str, dict] | None:
    async with deps.uow() as uow:  # one read transaction for everything the card shows
        ticket = await uow.tickets.get(int(message.args["ticket"]))
        if ticket is None:
            return None
        sla = await cards.sla_line(deps, uow, ticket)  # SLA (issue 4)
        escalation = await cards.open_escalation(uow, ticket)  # escalation (issue 6)
    names = await cards.names_for(deps, ticket)
    return cards.render(deps, ticket, names, sla=sla, escalation=escalation)


@outbox.effect("card")
async def _card_posted(deps: Deps, uow: UnitOfWork, message: Outbound, channel_id: str,
                       post_id: str) -> None:
    await _record(deps, uow, int(message.args["ticket"]), card_post_id=post_id)


@outbox.effect("customer_root")
async def _customer_root_posted(deps: Deps, uow: UnitOfWork, message: Outbound, channel_id: str,
                                post_id: str) -> None:
    assert message.ticket_id is not None
    await _record(deps, uow, message.ticket_id, customer_channel_id=channel_id,
                  customer_root_id=post_id)


@outbox.effect("cc_root")
async def _cc_root_posted(deps: Deps, uow: UnitOfWork, message: Outbound, channel_id: str,
                          post_id: str) -> None:
    key = f"{message.ticket_id}:{message.args['user']}"
    await uow.claims.set("cc_thread", key, f"{channel_id}:{post_id}")
    await uow.claims.set("cc_root", post_id, key)


async def _record(deps: Deps, uow: UnitOfWork, ticket_id: int, **changes: str) -> None:
    if not await uow.tickets.set_posts(ticket_id, **changes):
        return
    await uow.events.add(TicketEvent(ticket_id, EventKind.ANNOUNCED, deps.clock(), data=dict(changes)))


# --- the card, kept current ---------------------------------------------------------------------
async def queue_card_refresh(deps: Deps, uow: UnitOfWork, ticket: Ticket) -> bool:
    """Edit the card in place once the ticket changed; one waiting refresh is enough, since it
    renders the ticket as it is when it is sent (a card not posted yet will show it anyway)."""
    tid = _id(ticket)
    lane = ticket_lane(tid)
    if await uow.outbox.has_waiting(lane, "card", deps.clock()):
        return False
    if ticket.card_post_id is None and await uow.outbox.produced(card_key(tid)) is False:
        return False  # never announced through the outbox (the announce job will)
    return bool(await outbox.queue(deps, uow, card_refresh(ticket)))


def card_refresh(ticket: Ticket) -> Outbound:  # SLA check (issue 10): also queued in bulk
    """The card's edit in place (whether one is needed: `queue_card_refresh`)."""
    tid = _id(ticket)
    # an edit replaces the post's props: keep the card findable by its role and key
    keep = {"supportdesk_role": "card", "supportdesk_key": card_key(tid), "supportdesk_ticket": tid}
    return Outbound(unique(f"t{tid}:card-edit"), ticket_lane(tid), Action.UPDATE,
                    root=ticket.card_post_id or ref(card_key(tid)), render="card",
                    props=keep, args={"ticket": tid}, ticket_id=tid)


# --- the two sides of the conversation ----------------------------------------------------------
def to_staff_thread(ticket: Ticket, message: str, *, role: str, key: str,
                    files: Sequence[str] = ()) -> Outbound:
    """A post in the ticket's staff thread (under its card)."""
    tid = _id(ticket)
    return Outbound(key, ticket_lane(tid), channel="support", message=message,
                    root=ticket.card_post_id or ref(card_key(tid)), files=tuple(files),
                    props={"supportdesk_role": role}, ticket_id=tid)


async def to_customer_threads(uow: UnitOfWork, ticket: Ticket, message: str, *, role: str,
                              key: str, files: Sequence[str] = (),
                              props: dict | None = None) -> list[Outbound]:
    """The same post in the requester's thread and each CC'd user's thread."""
    tid = _id(ticket)
    lane = ticket_lane(tid)
    extra = {"supportdesk_role": role, **(props or {})}
    if ticket.customer_channel_id and ticket.customer_root_id:
        threads = [(ticket.customer_channel_id, ticket.customer_root_id)]
    else:
        threads = [(ref(customer_root_key(tid)), ref(customer_root_key(tid)))]
    for user_id in ticket.form.cc_user_ids:
        where = await uow.claims.get("cc_thread", f"{tid}:{user_id}")
        if where:
            channel_id, _, root_id = where.partition(":")
            threads.append((channel_id, root_id))
        else:
            threads.append((ref(cc_key(tid, user_id)), ref(cc_key(tid, user_id))))
    return [Outbound(f"{key}:{n}", lane, channel=channel, root=root, message=message,
                     files=tuple(files), props=extra, ticket_id=tid)
            for n, (channel, root) in enumerate(threads)]


def in_channel(channel_id: str, message: str, *, key: str, root_id: str = "",
               props: dict | None = None, ticket_id: int | None = None) -> Outbound:
    """A post anywhere else (a DM answer, a channel alert), in its own lane unless a ticket's."""
    lane = ticket_lane(ticket_id) if ticket_id is not None else f"c{channel_id}"[:64]
    return Outbound(key, lane, channel=channel_id, root=root_id, message=message,
                    props=dict(props or {}), ticket_id=ticket_id)


def reaction(ticket: Ticket, post_id: str, emoji: str) -> Outbound:
    tid = _id(ticket)
    return Outbound(f"t{tid}:react:{post_id}:{emoji}", ticket_lane(tid), Action.REACT,
                    root=post_id, message=emoji, ticket_id=tid)
