"""Scheduled work of the ticket workflow: auto-close, the CSAT question, unfinished announcements."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands import announce, conversation, csat, replies, tickets
from commands.deps import Deps
from commands.errors import UserError
from commands.ports import GatewayError, TicketQuery, UnitOfWork
from workflows import lifecycle
from workflows.lifecycle import Action
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.outbox import Outbound  # reliability (issue 8)

log = logging.getLogger(__name__)

BATCH = 500
CSAT_LOOKBACK = timedelta(days=14)  # a question not sent within two weeks is no longer worth it


def last_at(events: list[TicketEvent], kind: EventKind, to_value: str | None = None) -> datetime | None:
    times = [e.at for e in events if e.kind is kind and (to_value is None or e.to_value == to_value)]
    return max(times) if times else None


async def close_solved(deps: Deps, now: datetime) -> int:
    """Close Solved tickets after `solved_close_after` without a customer reply, unless on hold."""
    async with deps.uow() as uow:
        solved = await uow.tickets.find(TicketQuery(statuses=frozenset({Status.SOLVED}), limit=BATCH))
    closed = 0
    for ticket in solved:
        assert ticket.id is not None
        async with deps.uow() as uow:
            events = await uow.events.for_ticket(ticket.id)
        solved_at = last_at(events, EventKind.STATUS_CHANGED, Status.SOLVED.value)
        if solved_at is None or not lifecycle.auto_close_due(
            ticket, solved_at, last_at(events, EventKind.CUSTOMER_MESSAGE),
            deps.policy.solved_close_after, now,
        ):
            continue
        try:
            _, events = await tickets.change(
                deps, ticket.id,
                lambda t: lifecycle.apply(t, Action.AUTO_CLOSE, actor_id=None, at=now),
                outgoing=_auto_closed_note)
        except UserError as exc:  # changed under our feet (reopened, put on hold): skip
            log.info("auto-close of #%s skipped: %s", ticket.id, exc)
            continue
        closed += bool(events)
    return closed


async def _auto_closed_note(uow: UnitOfWork, ticket: Ticket) -> list[Outbound]:
    """The staff-thread note, queued with the close (once: keyed by the ticket's close)."""
    return [conversation.staff_note(ticket, replies.auto_closed(ticket), role="auto_close",
                                    key=f"t{ticket.id}:auto_close:{ticket.updated_at.isoformat()}")]


async def ask_csat(deps: Deps, now: datetime) -> int:
    """Send the rating question `send_after` the trigger status was reached, once per ticket."""
    status = deps.policy.csat_after_status
    due_before = now - deps.policy.csat_send_after
    async with deps.uow() as uow:
        changes = await uow.events.between(due_before - CSAT_LOOKBACK, due_before)
    ids = sorted({e.ticket_id for e in changes
                  if e.kind is EventKind.STATUS_CHANGED and e.to_value == status})
    asked = 0
    for ticket_id in ids:
        async with deps.uow() as uow:
            ticket = await uow.tickets.get(ticket_id)
        if ticket is None or not _still_there(ticket, status):
            continue
        try:
            asked += await csat.ask(deps, ticket)
        except GatewayError as exc:
            log.warning("CSAT question for #%s not sent (will retry): %s", ticket_id, exc)
    return asked


def _still_there(ticket: Ticket, status: str) -> bool:
    """Asked after Solved: a ticket reopened since is not asked (it asks again when re-solved)."""
    if status == Status.SOLVED.value:
        return ticket.status in (Status.SOLVED, Status.CLOSED)
    return ticket.status is Status.CLOSED


async def finish_announcements(deps: Deps, now: datetime) -> int:
    async with deps.uow() as uow:
        pending = await uow.tickets.unannounced()
    done = 0
    for ticket in pending:
        assert ticket.id is not None
        done += await announce.announce(ticket.id, deps)
    return done

