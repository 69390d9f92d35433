"""Announce a stored ticket: its card in ~Customer Support, the requester's DM thread, CC notices.

Each step is recorded as soon as it is done, so a retry after a failure (Mattermost down, a restart)
does only what is left.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from commands import replies
from commands.deps import Deps
from commands.ports import GatewayError
from workflows.model import EventKind, Ticket, TicketEvent

log = logging.getLogger(__name__)


async def announce(ticket_id: int, deps: Deps) -> bool:
    """Do whatever announcing is still missing; True when the ticket is fully announced."""
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
    if ticket is None:
        return True
    try:
        names = await _names(ticket, deps)
        if ticket.card_post_id is None:
            ticket = await _post_card(ticket, names, deps)
        if ticket.customer_root_id is None:
            ticket = await _open_customer_thread(ticket, names, deps)
    except GatewayError as exc:
        log.warning("announcing ticket #%s failed (will retry): %s", ticket_id, exc)
        return False
    return True


async def _names(ticket: Ticket, deps: Deps) -> dict[str, str]:
    ids = [ticket.requester.user_id, *ticket.form.cc_user_ids]
    users = await deps.gateway.get_users_by_ids(ids)
    return {u["id"]: replies.person(u) for u in users}


async def _post_card(ticket: Ticket, names: dict[str, str], deps: Deps) -> Ticket:
    requester = names.get(ticket.requester.user_id, ticket.requester.username)
    cc = [names[i] for i in ticket.form.cc_user_ids if i in names]
    message, props = replies.ticket_card(ticket, requester_name=requester, cc_names=cc)
    post = await deps.gateway.create_post(deps.desk.support_channel_id, message, props=props)
    return await _record(ticket, deps, card_post_id=post["id"])


async def _open_customer_thread(ticket: Ticket, names: dict[str, str], deps: Deps) -> Ticket:
    channel_id = await deps.gateway.direct_channel(ticket.requester.user_id)
    post = await deps.gateway.create_post(
        channel_id, replies.requester_confirmation(ticket),
        props={"supportdesk_ticket": ticket.id, "supportdesk_role": "customer_root"},
    )
    ticket = await _record(ticket, deps, customer_channel_id=channel_id, customer_root_id=post["id"])
    requester = names.get(ticket.requester.user_id, ticket.requester.username)
    for user_id in ticket.form.cc_user_ids:
        dm = await deps.gateway.direct_channel(user_id)
        await deps.gateway.create_post(
            dm, replies.cc_notice(ticket, requester_name=requester),
            props={"supportdesk_ticket": ticket.id, "supportdesk_role": "cc_notice"},
        )
    return ticket


async def _record(ticket: Ticket, deps: Deps, **changes: str) -> Ticket:
    assert ticket.id is not None
    async with deps.uow() as uow:
        current = await uow.tickets.get_for_update(ticket.id)
        assert current is not None
        updated = replace(current, **changes)
        await uow.tickets.save(updated)
        await uow.events.add(
            TicketEvent(ticket.id, EventKind.ANNOUNCED, deps.clock(), data=dict(changes))
        )
        await uow.commit()
    return updated
