"""The ticket service: find a ticket for someone, check they may act, change it, refresh its card."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from commands import messages, outbox  # reliability (issue 8)
from commands.deps import Deps
from commands.errors import UserError
from commands.ports import UnitOfWork
from workflows import sla_watch, text  # sla_watch: SLA (issue 4)
from commands import sla_outcomes  # summary perf (issue 10): stored SLA outcomes
from commands import logcontext, metrics as metric_hooks  # observability (issue 11)
from workflows.lifecycle import InvalidTransition
from workflows.model import Ticket, TicketEvent
from workflows.outbox import Outbound, ticket_lane  # reliability (issue 8)
from workflows.permissions import NOT_FOUND_OR_NOT_YOURS, NotPermitted, Permission, Role, require

log = logging.getLogger(__name__)

Change = Callable[[Ticket], tuple[Ticket, Sequence[TicketEvent]]]


@dataclass(frozen=True, slots=True)
class Acting:
    """A ticket as seen by one user, with the roles they hold on it."""

    ticket: Ticket
    roles: frozenset[Role]


def parse_id(raw: str) -> int:
    ticket_id = text.parse_ticket_id(raw)
    if ticket_id is None:
        raise UserError(f"`{text.inline(raw, max_len=30)}` is not a ticket number; use e.g. `1042` or `#1042`.")
    return ticket_id


async def load(deps: Deps, ticket_id: int, user_id: str, permission: Permission) -> Acting:
    """The ticket if the user may do `permission` on it; outsiders can't tell it exists."""
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
    if ticket is None:
        roles = await deps.directory.roles(user_id, None)
        if Role.STAFF in roles or Role.ADMIN in roles or Role.SET in roles:
            raise UserError(f"There is no ticket #{ticket_id}.")
        raise UserError(NOT_FOUND_OR_NOT_YOURS)
    roles = await deps.directory.roles(user_id, ticket)
    try:
        require(roles, permission)
    except NotPermitted as exc:
        if Role.OTHER in roles:  # security (issue 9): to an outsider, any refusal on a ticket reads
            raise UserError(NOT_FOUND_OR_NOT_YOURS) from None  # as "no such ticket" (no id oracle)
        raise UserError(exc.explain()) from None
    return Acting(ticket, roles)


Outgoing = Callable[[UnitOfWork, Ticket], Awaitable[Sequence[Outbound]]]


async def change(deps: Deps, ticket_id: int, how: Change, *, claim: tuple[str, str] | None = None,
                 outgoing: Outgoing | None = None) -> tuple[Ticket, list[TicketEvent]]:
    """Apply a pure change under a row lock, log its events, queue the card's refresh and the
    `outgoing` messages (built from the changed ticket) in the same transaction, commit, deliver.

    With `claim` (e.g. ("post", id)) the change happens once: a second call changes nothing.
    """
    logcontext.bind_ticket(ticket_id)  # observability (issue 11): log lines name the ticket
    async with deps.uow() as uow:
        if claim is not None and not await uow.claims.claim(*claim):
            return await _unchanged(uow, ticket_id)
        current = await uow.tickets.get_for_update(ticket_id)
        if current is None:
            raise UserError(f"There is no ticket #{ticket_id}.")
        try:
            updated, events = how(current)
        except InvalidTransition as exc:
            raise UserError(exc.explain()) from None
        events = list(events)
        if events or updated != current:
            updated = await track_sla(deps, uow, updated, events)  # SLA (issue 4)
            await sla_outcomes.track_change(deps, uow, updated, events)  # summary perf (issue 10)
            await save(uow, updated, events)
        queued = await _queue(deps, uow, updated, refresh=bool(events),
                              outgoing=outgoing if events else None)
        await uow.commit()
    if queued:
        await outbox.flush(deps, [ticket_lane(ticket_id)])
    return updated, events


async def _unchanged(uow: UnitOfWork, ticket_id: int) -> tuple[Ticket, list[TicketEvent]]:
    ticket = await uow.tickets.get(ticket_id)
    if ticket is None:
        raise UserError(f"There is no ticket #{ticket_id}.")
    return ticket, []


async def _queue(deps: Deps, uow: UnitOfWork, ticket: Ticket, *, refresh: bool,
                 outgoing: Outgoing | None) -> bool:
    """reliability (issue 8): what the change sends goes into the outbox with the change."""
    queued = await messages.queue_card_refresh(deps, uow, ticket) if refresh else False
    if outgoing is not None:
        queued = bool(await outbox.queue(deps, uow, *await outgoing(uow, ticket))) or queued
    return queued


async def save(uow: UnitOfWork, ticket: Ticket, events: Sequence[TicketEvent]) -> None:
    await uow.tickets.save(ticket)
    for event in events:
        await uow.events.add(event)


async def record(deps: Deps, *events: TicketEvent, ticket: Ticket | None = None,
                 claim: tuple[str, str] | None = None,
                 outgoing: Outgoing | None = None) -> bool:
    """Log events that change nothing else (notes, messages, replies), with the messages they
    send (`outgoing`, built for `ticket`); with `claim`, once. False if the claim was taken."""
    if events:
        logcontext.bind_ticket(events[0].ticket_id)  # observability (issue 11)
    queued = False
    async with deps.uow() as uow:
        if claim is not None and not await uow.claims.claim(*claim):
            return False
        locked = await _lock_for_sla(deps, uow, events)  # SLA (issue 4): lock before FK inserts
        for event in events:
            await uow.events.add(event)
        moved = await _track_recorded(deps, uow, locked)  # SLA (issue 4)
        await sla_outcomes.track_stored(deps, uow, locked)  # summary perf (issue 10)
        for changed in moved:  # SLA (issue 4): the card's deadline line changed
            queued = await messages.queue_card_refresh(deps, uow, changed) or queued
        if outgoing is not None and ticket is not None:
            queued = bool(await outbox.queue(deps, uow, *await outgoing(uow, ticket))) or queued
        await uow.commit()
    metric_hooks.events_recorded(events)  # observability (issue 11): pages and breaches
    if queued:
        await outbox.flush(deps, [ticket_lane(events[0].ticket_id)] if events else None)
    return True


async def refresh_card(deps: Deps, ticket: Ticket) -> None:
    """Edit the card in place (never re-post) so the channel shows the ticket as it is now."""
    if ticket.id is None:
        return
    async with deps.uow() as uow:
        queued = await messages.queue_card_refresh(deps, uow, ticket)
        await uow.commit()
    if queued:
        await outbox.flush(deps, [ticket_lane(ticket.id)])


# --- SLA (issue 4): keep tickets.next_deadline_at in step with the event log ------------------
async def track_sla(deps: Deps, uow: UnitOfWork, ticket: Ticket,
                    unsaved: Sequence[TicketEvent]) -> Ticket:
    """The ticket with its next SLA deadline recomputed, when these events move a clock."""
    if deps.sla is None or ticket.id is None or not sla_watch.moves_clocks(unsaved):
        return ticket
    return await deps.sla.track(uow, deps.gateway, ticket, unsaved, deps.clock())


def first_deadline(deps: Deps, ticket: Ticket, requester: dict,
                   opened: TicketEvent) -> tuple[Ticket, str | None]:
    """At intake, before the ticket is stored: the requester's zone (their profile's) and the
    ticket with its first deadline (its whole log is `opened`: nothing to read back)."""
    if deps.sla is None:
        return ticket, None
    zone = deps.sla.zone_name(requester)
    return deps.sla.tracked(ticket, [opened], zone, deps.clock()), zone


async def track_intake(deps: Deps, uow: UnitOfWork, ticket: Ticket, zone: str | None,
                       events: Sequence[TicketEvent]) -> None:
    """Once the new ticket is stored: remember its zone and its first wait (summary perf)."""
    if deps.sla is None or zone is None or ticket.id is None:
        return
    await uow.claims.set("sla_zone", str(ticket.id), zone)
    await sla_outcomes.track_new(deps, uow, ticket, events, zone)


async def _lock_for_sla(deps: Deps, uow: UnitOfWork,
                        events: Sequence[TicketEvent]) -> list[Ticket]:
    """Row-lock (in id order) the tickets whose clocks these events move."""
    if deps.sla is None or not sla_watch.moves_clocks(events):
        return []
    ids = sorted({e.ticket_id for e in events if e.kind in sla_watch.CLOCK_EVENTS})
    found = [await uow.tickets.get_for_update(i) for i in ids]
    return [t for t in found if t is not None]


async def _track_recorded(deps: Deps, uow: UnitOfWork, locked: list[Ticket]) -> list[Ticket]:
    """Recompute the locked tickets' deadlines from their (now stored) logs; return those moved."""
    moved = []
    for ticket in locked:
        tracked = await deps.sla.track(uow, deps.gateway, ticket, (), deps.clock())
        if tracked.next_deadline_at != ticket.next_deadline_at:
            await uow.tickets.save(tracked)
            moved.append(tracked)
    return moved
# --- end SLA -------------------------------------------------------------------------------------
