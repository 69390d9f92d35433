"""What staff do to a ticket, shared by buttons, dialogs and slash commands."""

from __future__ import annotations

from dataclasses import replace

from commands import replies, threads, tickets
from commands import conversation, messages  # reliability (issue 8): the outbox
from commands.ports import UnitOfWork
from workflows.outbox import Outbound
from commands.deps import Deps
from commands.errors import UserError
from workflows import lifecycle
from workflows.lifecycle import Action
from workflows.model import EventKind, Priority, Status, Ticket, TicketEvent
from workflows.permissions import Permission


async def assign(deps: Deps, ticket_id: int, actor_id: str, assignee_id: str) -> Ticket:
    """Assign to a staff member (New → Open); only staff can hold tickets."""
    # security (issue 9): taking a ticket is the matrix's TAKE, assigning someone else ASSIGN
    permission = Permission.TAKE if assignee_id == actor_id else Permission.ASSIGN
    await tickets.load(deps, ticket_id, actor_id, permission)
    if not await deps.directory.is_staff(assignee_id):
        raise UserError(replies.NOT_STAFF_ASSIGNEE)
    now = deps.clock()
    ticket, _ = await tickets.change(deps, ticket_id, lambda t: lifecycle.apply(
        t, Action.ASSIGN, actor_id=actor_id, at=now, assignee_id=assignee_id))
    return ticket


async def set_status(deps: Deps, ticket_id: int, actor_id: str, action: Action) -> Ticket:
    await tickets.load(deps, ticket_id, actor_id, Permission.CHANGE_STATUS)
    now = deps.clock()
    ticket, _ = await tickets.change(deps, ticket_id, lambda t: lifecycle.apply(
        t, action, actor_id=actor_id, at=now))
    return ticket


async def set_priority(deps: Deps, ticket_id: int, actor_id: str, priority: Priority) -> Ticket:
    await tickets.load(deps, ticket_id, actor_id, Permission.CHANGE_PRIORITY)
    now = deps.clock()

    def reprioritise(t: Ticket) -> tuple[Ticket, list[TicketEvent]]:
        if t.priority is priority:
            return t, []
        if t.status is Status.CLOSED:
            raise lifecycle.TicketClosed(t.status, Action.REOPEN, ticket_id=t.id)
        event = TicketEvent(t.id or 0, EventKind.PRIORITY_CHANGED, now, actor_id=actor_id,
                            from_value=t.priority.value, to_value=priority.value)
        return replace(t, form=replace(t.form, priority=priority), updated_at=now), [event]

    ticket, _ = await tickets.change(deps, ticket_id, reprioritise)
    return ticket


async def set_hold(deps: Deps, ticket_id: int, actor_id: str, hold: bool | None) -> Ticket:
    """Turn "do not close" on or off (None toggles)."""
    acting = await tickets.load(deps, ticket_id, actor_id, Permission.HOLD)
    target = (not acting.ticket.hold) if hold is None else hold
    now = deps.clock()
    ticket, _ = await tickets.change(deps, ticket_id, lambda t: lifecycle.set_hold(
        t, target, actor_id=actor_id, at=now))
    return ticket


async def reply(deps: Deps, ticket_id: int, actor_id: str, body: str) -> Ticket:
    """A public reply to the customer's thread, with a copy in the staff thread."""
    acting = await tickets.load(deps, ticket_id, actor_id, Permission.REPLY_PUBLIC)
    ticket = acting.ticket
    if not body.strip():
        raise UserError(replies.EMPTY_REPLY)
    _check_length(body)  # security (issue 9)
    if ticket.status is Status.CLOSED:
        raise UserError(lifecycle.TicketClosed(ticket.status, Action.REOPEN, ticket_id=ticket_id).explain())
    if not ticket.customer_root_id:
        raise UserError(replies.NO_CUSTOMER_THREAD)
    author = replies.person(await deps.gateway.get_user(actor_id))
    copy = replies.reply_sent_copy(author, body)
    await threads.deliver_reply(deps, ticket, actor_id, body, staff_copy=copy)
    return ticket


async def note(deps: Deps, ticket_id: int, actor_id: str, body: str) -> Ticket:
    """An internal note: recorded and shown in the staff thread, never sent to the customer."""
    acting = await tickets.load(deps, ticket_id, actor_id, Permission.NOTE)
    if not body.strip():
        raise UserError(replies.EMPTY_NOTE)
    _check_length(body)  # security (issue 9)
    ticket = acting.ticket
    assert ticket.id is not None
    author = replies.person(await deps.gateway.get_user(actor_id))
    copy = conversation.staff_note(ticket, replies.note_copy(author, body), role="note",
                                   key=messages.unique(f"t{ticket.id}:note"))

    async def outgoing(uow: UnitOfWork, current: Ticket) -> list[Outbound]:
        return [copy]

    await tickets.record(deps, TicketEvent(ticket.id, EventKind.INTERNAL_NOTE, deps.clock(),
                                           actor_id=actor_id, data={"text": body[:4000]}),
                         ticket=ticket, outgoing=outgoing)
    return ticket


TEXT_MAX = 8000  # security (issue 9): same cap as the Reply dialog (commands/dialogs.py REPLY_MAX)


def _check_length(body: str) -> None:
    if len(body) > TEXT_MAX:
        raise UserError(f"That text is {len(body)} characters long; use at most {TEXT_MAX}.")
