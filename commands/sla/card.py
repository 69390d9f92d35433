"""The card's SLA line: the nearest deadline of the ticket's running clocks, or its breach."""

from __future__ import annotations

from commands.deps import Deps
from commands.ports import UnitOfWork
from commands.sla import replies
from workflows import sla_watch
from workflows.model import Ticket


async def card_line(deps: Deps, uow: UnitOfWork, ticket: Ticket) -> str | None:
    """ "First reply due in 42m", "Next reply breached 2h ago"; None when no target applies."""
    if deps.sla is None or ticket.id is None or ticket.plan is None:
        return None
    now = deps.clock()
    events = await uow.events.for_ticket(ticket.id)
    zone = await deps.sla.zone_of(uow, deps.gateway, ticket, now)
    head = sla_watch.headline(deps.sla.report(ticket, events, zone, now))
    return replies.card_line(*head, now) if head else None
