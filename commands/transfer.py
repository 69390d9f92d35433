"""Export and import use cases: stream a period's tickets out; bring a Zendesk export's tickets in.

Import is idempotent: each ticket claims ("import.zendesk", its external id) in the transaction
that stores it, so a second run (or a crash half-way) never duplicates a ticket. Imported tickets
have no card yet; the announce job posts them when the bot next runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.ports import ChatGateway, GatewayError, UnitOfWork
from workflows import transfer
from workflows.customers import match_customer
from workflows.model import (
    Customer, EventKind, Form, Requester, Ticket, TicketEvent, TicketForm,
)

log = logging.getLogger(__name__)

CLAIM_KIND = "import.zendesk"
BATCH = 500

UowFactory = Callable[[], UnitOfWork]


async def count_export(uow: UowFactory, start: datetime, end: datetime) -> int:
    async with uow() as u:
        return await u.transfer.count_created_between(start, end)


async def export_records(
    uow: UowFactory, start: datetime, end: datetime, *, batch: int = BATCH
) -> AsyncIterator[dict[str, Any]]:
    """Tickets created in [start, end), by number, each with all its events; one batch in memory."""
    after = 0
    while True:
        async with uow() as u:
            tickets = await u.transfer.created_between(start, end, after_id=after, limit=batch)
            events = await u.transfer.events_for([t.id for t in tickets if t.id is not None])
        for ticket in tickets:
            assert ticket.id is not None
            yield transfer.ticket_record(ticket, events.get(ticket.id, []))
        if len(tickets) < batch:
            return
        after = tickets[-1].id or after


@dataclass
class ImportReport:
    imported: list[tuple[str, int]] = field(default_factory=list)  # (external id, ticket number)
    already: list[str] = field(default_factory=list)  # external ids imported by an earlier run
    unmatched: list[str] = field(default_factory=list)  # external ids whose requester had no account


async def import_tickets(
    items: Sequence[transfer.ImportedTicket], *, uow: UowFactory, gateway: ChatGateway,
    bot_user: dict[str, Any], customers: Sequence[Customer],
) -> ImportReport:
    """Store each ticket once; requesters are matched by e-mail, else the bot stands in for them."""
    report = ImportReport()
    for item in items:
        user = await _match(gateway, item.requester_email)
        ticket = _ticket(item, user or bot_user, customers, matched=user is not None)
        async with uow() as u:
            if not await u.claims.claim(CLAIM_KIND, item.external_id):
                report.already.append(item.external_id)
                continue
            stored = await u.tickets.add(ticket)
            assert stored.id is not None
            await u.events.add(TicketEvent(
                stored.id, EventKind.OPENED, item.created_at,
                actor_id=user["id"] if user else None, to_value=stored.status.value,
                data={"imported_from": item.external_id},
            ))
            await u.claims.set(CLAIM_KIND, item.external_id, str(stored.id))
            await u.commit()
        if user is None:
            report.unmatched.append(item.external_id)
        report.imported.append((item.external_id, stored.id))
        log.info("ticket #%s imported from Zendesk ticket %s", stored.id, item.external_id)
    return report


async def _match(gateway: ChatGateway, email: str | None) -> dict[str, Any] | None:
    if not email:
        return None
    try:
        return await gateway.get_user_by_email(email)
    except GatewayError as exc:  # e.g. 403 when e-mails are hidden from the bot
        log.warning("looking up requester %s failed: %s", email, exc)
        return None


def _ticket(item: transfer.ImportedTicket, user: dict[str, Any], customers: Sequence[Customer],
            *, matched: bool) -> Ticket:
    customer = match_customer(customers, username=user.get("username", "") if matched else "",
                              email=item.requester_email or "")
    form = TicketForm(
        form=Form.TECHNICAL, subject=item.subject,
        description=transfer.imported_description(item, requester_matched=matched),
        category=item.category, priority=item.priority,
    )
    requester = Requester(
        user_id=user["id"], username=user.get("username", ""),
        organisation=customer.name if customer else None, plan=customer.plan if customer else None,
    )
    return Ticket(id=None, form=form, requester=requester, status=item.status,
                  created_at=item.created_at, updated_at=item.updated_at)
