"""The ticket service: find a ticket for someone, check they may act, change it, refresh its card."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from commands import cards
from commands.deps import Deps
from commands.errors import UserError
from commands.ports import GatewayError, UnitOfWork
from workflows import text
from workflows.lifecycle import InvalidTransition
from workflows.model import Ticket, TicketEvent
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
        raise UserError(exc.explain()) from None
    return Acting(ticket, roles)


async def change(deps: Deps, ticket_id: int, how: Change) -> tuple[Ticket, list[TicketEvent]]:
    """Apply a pure change under a row lock, log its events, commit, then refresh the card."""
    async with deps.uow() as uow:
        current = await uow.tickets.get_for_update(ticket_id)
        if current is None:
            raise UserError(f"There is no ticket #{ticket_id}.")
        try:
            updated, events = how(current)
        except InvalidTransition as exc:
            raise UserError(exc.explain()) from None
        events = list(events)
        if events or updated != current:
            await save(uow, updated, events)
            await uow.commit()
    if events:
        await refresh_card(deps, updated)
    return updated, events


async def save(uow: UnitOfWork, ticket: Ticket, events: Sequence[TicketEvent]) -> None:
    await uow.tickets.save(ticket)
    for event in events:
        await uow.events.add(event)


async def record(deps: Deps, *events: TicketEvent) -> None:
    """Log events that change nothing else (notes, messages, replies)."""
    async with deps.uow() as uow:
        for event in events:
            await uow.events.add(event)
        await uow.commit()


async def refresh_card(deps: Deps, ticket: Ticket) -> None:
    """Edit the card in place (never re-post) so the channel shows the ticket as it is now."""
    if ticket.card_post_id is None:
        return
    try:
        names = await cards.names_for(deps, ticket)
        message, props = cards.render(deps, ticket, names)
        await deps.gateway.update_post(ticket.card_post_id, message, props)
    except GatewayError as exc:
        log.warning("refreshing the card of #%s failed: %s", ticket.id, exc)
