"""Ticket lifecycle rules (statuses, per support-forms.md). Pure: no I/O, no clock, no SQLAlchemy.

The state machine is one table, `TRANSITIONS`, plus two guards and one function, `apply()`.
`lifecycle.mmd` draws the same table; a unit test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from workflows.model import (
    EventKind,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)


class Action(StrEnum):
    """What someone (or the scheduler) does to a ticket; imperative."""

    ASSIGN = "assign"  # set or change the assignee (TAKE is ASSIGN to oneself)
    UNASSIGN = "unassign"  # clear the assignee; an Open ticket goes back to New
    ASK_CUSTOMER = "ask_customer"  # staff sets Pending: waiting on the customer
    CUSTOMER_REPLIED = "customer_replied"  # the requester (or a CC) wrote in the ticket
    SOLVE = "solve"
    REOPEN = "reopen"  # staff sets Open
    AUTO_CLOSE = "auto_close"  # the scheduler closes a Solved ticket


S, A = Status, Action

TRANSITIONS: Final[Mapping[tuple[Status, Action], Status]] = MappingProxyType({
    (S.NEW, A.ASSIGN): S.OPEN,
    (S.NEW, A.CUSTOMER_REPLIED): S.NEW,  # more detail before anyone picked it up
    (S.OPEN, A.ASSIGN): S.OPEN,  # re-assign keeps the status
    (S.OPEN, A.UNASSIGN): S.NEW,  # back to the queue: New means "not yet assigned"
    (S.OPEN, A.ASK_CUSTOMER): S.PENDING,
    (S.OPEN, A.CUSTOMER_REPLIED): S.OPEN,
    (S.OPEN, A.SOLVE): S.SOLVED,  # guard: needs an assignee
    (S.PENDING, A.ASSIGN): S.PENDING,
    (S.PENDING, A.UNASSIGN): S.PENDING,  # still waiting on the customer
    (S.PENDING, A.CUSTOMER_REPLIED): S.OPEN,
    (S.PENDING, A.REOPEN): S.OPEN,
    (S.PENDING, A.SOLVE): S.SOLVED,  # guard: needs an assignee
    (S.SOLVED, A.ASSIGN): S.SOLVED,  # fix who gets the credit (CSAT, stats)
    (S.SOLVED, A.CUSTOMER_REPLIED): S.OPEN,  # a reopen, recorded
    (S.SOLVED, A.REOPEN): S.OPEN,  # a reopen, recorded
    (S.SOLVED, A.AUTO_CLOSE): S.CLOSED,  # guard: not on hold; timing is auto_close_due()
    # Closed is final: no (CLOSED, *) entry. A customer writing on it is offered a follow-up.
})

del S, A

# Actions that change who is assigned; the others change only the status.
_ASSIGNEE_ACTIONS: Final = frozenset({Action.ASSIGN, Action.UNASSIGN})

# `/ticket status <word>` -> action. Words are what staff type; synonyms are Zendesk's.
_COMMAND_WORDS: Final[Mapping[str, Action]] = MappingProxyType({
    "open": Action.REOPEN,
    "reopen": Action.REOPEN,
    "pending": Action.ASK_CUSTOMER,
    "solved": Action.SOLVE,
    "solve": Action.SOLVE,
})


class InvalidTransition(Exception):
    """The action is not allowed from the ticket's current status (tier-2 error: explain it)."""

    def __init__(self, current: Status, action: Action, *, ticket_id: int | None = None) -> None:
        super().__init__(f"{action} not allowed from {current}")
        self.current = current
        self.action = action
        self.ticket_id = ticket_id

    def explain(self) -> str:
        """One sentence for the person who tried."""
        name = f"Ticket #{self.ticket_id}" if self.ticket_id is not None else "This ticket"
        status = self.current.value.capitalize()
        if self.current is Status.CLOSED:
            return f"{name} is Closed; closed tickets can't change."
        if TRANSITIONS.get((self.current, self.action)) is None:
            key = (self.current, self.action)
            reason = _REFUSALS.get(key) or _REFUSALS.get(self.action, "that can't be done now")
            return f"{name} is {status}; {reason}."
        return f"{name} is {status}; that can't be done now."  # a guard subclass overrides


# Why an action outside the table is refused: (status, action) first, then by action alone.
_REFUSALS: Final[Mapping[tuple[Status, Action] | Action, str]] = MappingProxyType({
    (Status.NEW, Action.UNASSIGN): "it has no assignee to remove",
    (Status.NEW, Action.ASK_CUSTOMER): "assign it before asking the customer",
    (Status.NEW, Action.SOLVE): "assign it before solving it",
    (Status.NEW, Action.REOPEN): "assign it to open it",
    (Status.OPEN, Action.REOPEN): "it is already Open",
    (Status.PENDING, Action.ASK_CUSTOMER): "it is already waiting on the customer",
    (Status.SOLVED, Action.SOLVE): "it is already Solved",
    (Status.SOLVED, Action.UNASSIGN): "a Solved ticket keeps its assignee",
    (Status.SOLVED, Action.ASK_CUSTOMER): "set it back to Open first",
    Action.AUTO_CLOSE: "only a Solved ticket closes automatically",
})


class TicketClosed(InvalidTransition):
    """Any action on a Closed ticket. On a customer message the caller offers a follow-up."""


class SolveNeedsAssignee(InvalidTransition):
    """Guard: a ticket cannot be Solved without an assignee."""

    def explain(self) -> str:
        name = f"Ticket #{self.ticket_id}" if self.ticket_id is not None else "This ticket"
        return f"{name} has no assignee; assign it before solving it."


class TicketOnHold(InvalidTransition):
    """Guard: a ticket with the "do not close" flag is never closed automatically."""

    def explain(self) -> str:
        name = f"Ticket #{self.ticket_id}" if self.ticket_id is not None else "This ticket"
        return f"{name} is on hold (do not close); it won't close automatically."


def open_ticket(form: TicketForm, requester: Requester, now: datetime) -> Ticket:
    """A fresh ticket: New, unassigned, not yet stored (id None)."""
    _require_aware(now)
    return Ticket(
        id=None, form=form, requester=requester, status=Status.NEW,
        created_at=now, updated_at=now,
    )


def status_for_command(word: str) -> Action | None:
    """Map a staff status word ("open", "pending", "solved") to its action; None if unknown."""
    return _COMMAND_WORDS.get(word.strip().lower())


def allowed_actions(ticket: Ticket) -> set[Action]:
    """Actions `apply` would accept now (guards included); decides which card buttons show."""
    return {
        action for (status, action) in TRANSITIONS
        if status is ticket.status and _guard(ticket, action) is None
    }


def apply(
    ticket: Ticket,
    action: Action,
    *,
    actor_id: str | None,
    at: datetime,
    assignee_id: str | None = None,
) -> tuple[Ticket, list[TicketEvent]]:
    """Move the ticket along TRANSITIONS; anything not in the table, or failing a guard, raises.

    `assignee_id` is required for ASSIGN and ignored otherwise. `actor_id` None means the
    system (the scheduler). A no-op (re-assigning to the same person, a customer message on an
    Open ticket) returns the ticket unchanged and no events.
    """
    if ticket.id is None:
        raise ValueError("store the ticket before changing it: events need its id")
    _require_aware(at)
    if action is Action.ASSIGN and not assignee_id:
        raise ValueError("ASSIGN needs an assignee_id")
    target = TRANSITIONS.get((ticket.status, action))
    if target is None:
        error = TicketClosed if ticket.status is Status.CLOSED else InvalidTransition
        raise error(ticket.status, action, ticket_id=ticket.id)
    if (guard := _guard(ticket, action)) is not None:
        raise guard(ticket.status, action, ticket_id=ticket.id)

    new_assignee = ticket.assignee_id
    if action in _ASSIGNEE_ACTIONS:
        new_assignee = assignee_id if action is Action.ASSIGN else None
    if target is ticket.status and new_assignee == ticket.assignee_id:
        return ticket, []

    events: list[TicketEvent] = []

    def log(kind: EventKind, old: str | None, new: str | None, **data: str) -> None:
        events.append(TicketEvent(ticket_id=ticket.id, kind=kind, at=at, actor_id=actor_id,
                                  from_value=old, to_value=new, data=data))

    if new_assignee != ticket.assignee_id:
        log(EventKind.ASSIGNED, ticket.assignee_id, new_assignee)
    if target is not ticket.status:
        log(EventKind.STATUS_CHANGED, ticket.status.value, target.value)
    if ticket.status is Status.SOLVED and target is Status.OPEN:
        by = "customer" if action is Action.CUSTOMER_REPLIED else "staff"
        log(EventKind.REOPENED, ticket.status.value, target.value, by=by)
    changed = replace(ticket, status=target, assignee_id=new_assignee, updated_at=at)
    return changed, events


def set_hold(
    ticket: Ticket, hold: bool, *, actor_id: str | None, at: datetime
) -> tuple[Ticket, list[TicketEvent]]:
    """Set or clear the "do not close" flag; refused on a Closed ticket; no-op gives no event."""
    if ticket.id is None:
        raise ValueError("store the ticket before changing it: events need its id")
    _require_aware(at)
    if ticket.status is Status.CLOSED:
        raise TicketClosed(ticket.status, Action.AUTO_CLOSE, ticket_id=ticket.id)
    if ticket.hold == hold:
        return ticket, []
    event = TicketEvent(ticket_id=ticket.id, kind=EventKind.HOLD_CHANGED, at=at,
                        actor_id=actor_id, from_value=str(ticket.hold).lower(),
                        to_value=str(hold).lower())
    return replace(ticket, hold=hold, updated_at=at), [event]


def auto_close_due(
    ticket: Ticket,
    solved_at: datetime,
    last_customer_message_at: datetime | None,
    close_after: timedelta,
    now: datetime,
) -> bool:
    """Solved, not on hold, no customer message since solving, and `close_after` has passed."""
    if ticket.status is not Status.SOLVED or ticket.hold:
        return False
    if last_customer_message_at is not None and last_customer_message_at > solved_at:
        return False  # normally the reply already reopened it; never close over a reply
    return now - solved_at >= close_after


def _guard(ticket: Ticket, action: Action) -> type[InvalidTransition] | None:
    """The error a guard raises for this action on this ticket, or None when it passes."""
    if action is Action.SOLVE and ticket.assignee_id is None:
        return SolveNeedsAssignee
    if action is Action.AUTO_CLOSE and ticket.hold:
        return TicketOnHold
    return None


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
