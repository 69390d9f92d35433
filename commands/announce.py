"""Announce a stored ticket: its card, the requester's DM thread and the CC notices, through the
outbox (queued with the ticket at intake; `queue_announcement` also serves tickets stored before)."""

from __future__ import annotations

import logging

from commands import logcontext  # observability (issue 11)
from commands import messages, outbox
from commands.deps import Deps
from commands.ports import UnitOfWork
from workflows.model import Ticket
from workflows.outbox import ticket_lane

log = logging.getLogger(__name__)


async def queue_announcement(deps: Deps, uow: UnitOfWork, ticket: Ticket, requester_name: str) -> int:
    """Queue whatever announcing is still missing (keys make a second call a no-op)."""
    wanted = messages.announcement(ticket, requester_name)
    missing = [m for m in wanted
               if not (m.after == "card" and ticket.card_post_id)
               and not (m.after == "customer_root" and ticket.customer_root_id)]
    return await outbox.queue(deps, uow, *missing)


async def announce(ticket_id: int, deps: Deps) -> bool:
    """Queue (if need be) and deliver the ticket's announcement; True when fully announced."""
    logcontext.bind_ticket(ticket_id)  # observability (issue 11)
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
        if ticket is None:
            return True
        await queue_announcement(deps, uow, ticket, ticket.requester.username)
        await uow.commit()
    await outbox.flush(deps, [ticket_lane(ticket_id)])
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
    return ticket is None or (ticket.card_post_id is not None and ticket.customer_root_id is not None)
