"""Announce a stored ticket: its card in ~Customer Support, the requester's DM thread, CC notices.

Each step is recorded as soon as it is done, so a retry after a failure (Mattermost down, a restart)
does only what is left.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from commands import cards, replies
from commands import logcontext  # observability (issue 11)
from commands.deps import Deps
from commands.ports import GatewayError
from commands.reliability import once  # reliability (issue 8)
from workflows.model import EventKind, Ticket, TicketEvent

log = logging.getLogger(__name__)


async def announce(ticket_id: int, deps: Deps) -> bool:
    """Do whatever announcing is still missing; True when the ticket is fully announced."""
    logcontext.bind_ticket(ticket_id)  # observability (issue 11)
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
    if ticket is None:
        return True
    try:
        names = await cards.names_for(deps, ticket)
        if ticket.card_post_id is None:
            ticket = await _post_card(ticket, names, deps)
        if ticket.customer_root_id is None:
            ticket = await _open_customer_thread(ticket, names, deps)
        await _notify_ccs(ticket, names, deps)
    except GatewayError as exc:
        log.warning("announcing ticket #%s failed (will retry): %s", ticket_id, exc)
        return False
    return True


async def _post_card(ticket: Ticket, names: dict[str, str], deps: Deps) -> Ticket:
    sla = await cards.sla_line(deps, ticket)  # SLA (issue 4)
    message, props = cards.render(deps, ticket, names, sla=sla)
    props["supportdesk_role"] = "card"  # reliability (issue 8): found again after a crash
    assert ticket.id is not None
    post = await once.post_once(  # reliability (issue 8): one card, whatever retries or replicas
        deps, ticket_id=ticket.id, step="card", channel_id=deps.desk.support_channel_id,
        role="card", since=ticket.created_at,
        send=lambda: deps.gateway.create_post(deps.desk.support_channel_id, message, props=props))
    return await _record(ticket, deps, card_post_id=post["id"])


async def _open_customer_thread(ticket: Ticket, names: dict[str, str], deps: Deps) -> Ticket:
    channel_id = await deps.gateway.direct_channel(ticket.requester.user_id)
    assert ticket.id is not None
    post = await once.post_once(  # reliability (issue 8): one DM thread root
        deps, ticket_id=ticket.id, step="customer_root", channel_id=channel_id,
        role="customer_root", since=ticket.created_at,
        send=lambda: deps.gateway.create_post(
            channel_id, replies.requester_confirmation(ticket),
            props={"supportdesk_ticket": ticket.id, "supportdesk_role": "customer_root"},
        ))
    return await _record(ticket, deps, customer_channel_id=channel_id, customer_root_id=post["id"])


async def _notify_ccs(ticket: Ticket, names: dict[str, str], deps: Deps) -> None:
    """Tell each CC'd user by DM; the notice roots their thread, recorded so it is sent once."""
    requester = names.get(ticket.requester.user_id, ticket.requester.username)
    for user_id in ticket.form.cc_user_ids:
        key = f"{ticket.id}:{user_id}"
        async with deps.uow() as uow:
            if await uow.claims.get("cc_thread", key):
                continue
        dm = await deps.gateway.direct_channel(user_id)
        assert ticket.id is not None
        post = await once.post_once(  # reliability (issue 8): one notice per CC
            deps, ticket_id=ticket.id, step=f"cc:{user_id}", channel_id=dm, role="cc_notice",
            since=ticket.created_at,
            send=lambda dm=dm: deps.gateway.create_post(  # type: ignore[misc]
                dm, replies.cc_notice(ticket, requester_name=requester),
                props={"supportdesk_ticket": ticket.id, "supportdesk_role": "cc_notice"},
            ))
        async with deps.uow() as uow:
            await uow.claims.set("cc_thread", key, f"{dm}:{post['id']}")
            await uow.claims.set("cc_root", post["id"], key)
            await uow.commit()


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
