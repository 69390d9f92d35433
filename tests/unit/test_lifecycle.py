"""The ticket lifecycle table, its guards, and the events it logs."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest

from workflows.lifecycle import (
    TRANSITIONS,
    Action,
    InvalidTransition,
    SolveNeedsAssignee,
    TicketClosed,
    TicketOnHold,
    allowed_actions,
    apply,
    auto_close_due,
    open_ticket,
    set_hold,
    status_for_command,
)
from workflows.model import EventKind, Form, Requester, Status, Ticket, TicketEvent, TicketForm

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
FORM = TicketForm(form=Form.TECHNICAL, subject="Login fails", description="SSO loop",
                  category="Authentication & Provisioning")
REQUESTER = Requester(user_id="cust1", username="carol", organisation="Acme")


def make_ticket(**overrides: object) -> Ticket:
    ticket = replace(open_ticket(FORM, REQUESTER, T0), id=12)
    return replace(ticket, **overrides)  # type: ignore[arg-type]


def ticket_in(status: Status, *, assignee_id: str | None = "ana") -> Ticket:
    if status is Status.NEW:
        assignee_id = None
    return make_ticket(status=status, assignee_id=assignee_id)


def act(ticket: Ticket, action: Action, **kw: object) -> tuple[Ticket, list[TicketEvent]]:
    kw.setdefault("assignee_id", "bob" if action is Action.ASSIGN else None)
    return apply(ticket, action, actor_id="ana", at=T1, **kw)  # type: ignore[arg-type]


ALLOWED = sorted(TRANSITIONS)
FORBIDDEN = sorted(set(product(Status, Action)) - TRANSITIONS.keys())


# --- the table -----------------------------------------------------------------------------

def test_the_table_says_what_support_forms_says() -> None:
    expected = {
        (Status.NEW, Action.ASSIGN): Status.OPEN,
        (Status.OPEN, Action.ASK_CUSTOMER): Status.PENDING,
        (Status.PENDING, Action.CUSTOMER_REPLIED): Status.OPEN,
        (Status.PENDING, Action.REOPEN): Status.OPEN,
        (Status.OPEN, Action.SOLVE): Status.SOLVED,
        (Status.PENDING, Action.SOLVE): Status.SOLVED,
        (Status.SOLVED, Action.CUSTOMER_REPLIED): Status.OPEN,
        (Status.SOLVED, Action.AUTO_CLOSE): Status.CLOSED,
        (Status.OPEN, Action.ASSIGN): Status.OPEN,
        (Status.PENDING, Action.ASSIGN): Status.PENDING,
    }
    assert {key: TRANSITIONS[key] for key in expected} == expected


def test_closed_is_final_in_the_table() -> None:
    assert [key for key in TRANSITIONS if key[0] is Status.CLOSED] == []


@pytest.mark.parametrize(("status", "action"), ALLOWED)
def test_actions_in_the_table_move_to_their_target(status: Status, action: Action) -> None:
    ticket = ticket_in(status)
    changed, _ = act(replace(ticket, hold=False), action)
    assert changed.status == TRANSITIONS[(status, action)]


@pytest.mark.parametrize(("status", "action"), FORBIDDEN)
def test_actions_outside_the_table_are_refused(status: Status, action: Action) -> None:
    with pytest.raises(InvalidTransition) as info:
        act(ticket_in(status), action)
    assert (info.value.current, info.value.action) == (status, action)


@pytest.mark.parametrize(("status", "action"), [k for k in FORBIDDEN if k[0] is not Status.CLOSED])
def test_every_refusal_has_its_own_sentence(status: Status, action: Action) -> None:
    with pytest.raises(InvalidTransition) as info:
        act(ticket_in(status), action)
    sentence = info.value.explain()
    assert sentence.startswith(f"Ticket #12 is {status.value.capitalize()}; ")
    assert "can't be done now" not in sentence


@pytest.mark.parametrize("action", list(Action))
def test_every_action_on_a_closed_ticket_is_refused_as_closed(action: Action) -> None:
    with pytest.raises(TicketClosed) as info:
        act(ticket_in(Status.CLOSED), action)
    assert info.value.explain() == "Ticket #12 is Closed; closed tickets can't change."


def test_the_mermaid_diagram_draws_exactly_the_table() -> None:
    text = (Path(__file__).parents[2] / "workflows" / "lifecycle.mmd").read_text()
    edges = set(re.findall(r"^\s*(\w+) --> (\w+): (\w+)", text, flags=re.MULTILINE))
    table = {(s.value.capitalize(), t.value.capitalize(), a.value)
             for (s, a), t in TRANSITIONS.items()}
    assert edges == table


# --- guards ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING])
def test_solving_needs_an_assignee(status: Status) -> None:
    with pytest.raises(SolveNeedsAssignee) as info:
        act(ticket_in(status, assignee_id=None), Action.SOLVE)
    assert info.value.explain() == "Ticket #12 has no assignee; assign it before solving it."


@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING])
def test_solving_with_an_assignee_works(status: Status) -> None:
    changed, _ = act(ticket_in(status), Action.SOLVE)
    assert (changed.status, changed.assignee_id) == (Status.SOLVED, "ana")


def test_a_ticket_on_hold_is_not_auto_closed() -> None:
    with pytest.raises(TicketOnHold):
        act(replace(ticket_in(Status.SOLVED), hold=True), Action.AUTO_CLOSE)


def test_solve_needs_assignee_is_an_invalid_transition() -> None:
    assert issubclass(SolveNeedsAssignee, InvalidTransition)
    assert issubclass(TicketOnHold, InvalidTransition)
    assert issubclass(TicketClosed, InvalidTransition)


# --- events ----------------------------------------------------------------------------------

def test_assigning_a_new_ticket_opens_it_and_logs_both_changes() -> None:
    changed, events = act(ticket_in(Status.NEW), Action.ASSIGN, assignee_id="bob")
    assert (changed.status, changed.assignee_id, changed.updated_at) == (Status.OPEN, "bob", T1)
    assert events == [
        TicketEvent(ticket_id=12, kind=EventKind.ASSIGNED, at=T1, actor_id="ana",
                    from_value=None, to_value="bob"),
        TicketEvent(ticket_id=12, kind=EventKind.STATUS_CHANGED, at=T1, actor_id="ana",
                    from_value="new", to_value="open"),
    ]


@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING, Status.SOLVED])
def test_reassigning_keeps_the_status_and_logs_only_the_assignee(status: Status) -> None:
    changed, events = act(ticket_in(status), Action.ASSIGN, assignee_id="bob")
    assert (changed.status, changed.assignee_id) == (status, "bob")
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [
        (EventKind.ASSIGNED, "ana", "bob")]


def test_assigning_to_the_same_person_changes_nothing() -> None:
    ticket = ticket_in(Status.OPEN)
    assert act(ticket, Action.ASSIGN, assignee_id="ana") == (ticket, [])


def test_assign_without_an_assignee_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="assignee_id"):
        act(ticket_in(Status.NEW), Action.ASSIGN, assignee_id=None)


def test_unassigning_an_open_ticket_returns_it_to_new() -> None:
    changed, events = act(ticket_in(Status.OPEN), Action.UNASSIGN)
    assert (changed.status, changed.assignee_id) == (Status.NEW, None)
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [
        (EventKind.ASSIGNED, "ana", None), (EventKind.STATUS_CHANGED, "open", "new")]


def test_a_customer_reply_on_a_solved_ticket_is_a_recorded_reopen() -> None:
    changed, events = act(ticket_in(Status.SOLVED), Action.CUSTOMER_REPLIED)
    assert changed.status is Status.OPEN
    assert [(e.kind, e.from_value, e.to_value, e.data) for e in events] == [
        (EventKind.STATUS_CHANGED, "solved", "open", {}),
        (EventKind.REOPENED, "solved", "open", {"by": "customer"}),
    ]


def test_staff_reopening_a_solved_ticket_is_recorded_as_by_staff() -> None:
    _, events = act(ticket_in(Status.SOLVED), Action.REOPEN)
    assert events[-1].kind is EventKind.REOPENED
    assert events[-1].data == {"by": "staff"}


def test_a_customer_reply_on_a_pending_ticket_reopens_without_a_reopen_event() -> None:
    changed, events = act(ticket_in(Status.PENDING), Action.CUSTOMER_REPLIED)
    assert changed.status is Status.OPEN
    assert [e.kind for e in events] == [EventKind.STATUS_CHANGED]


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN])
def test_a_customer_reply_that_changes_nothing_logs_nothing(status: Status) -> None:
    ticket = ticket_in(status)
    assert act(ticket, Action.CUSTOMER_REPLIED) == (ticket, [])


def test_auto_close_is_logged_as_done_by_the_system() -> None:
    changed, events = apply(ticket_in(Status.SOLVED), Action.AUTO_CLOSE, actor_id=None, at=T1)
    assert changed.status is Status.CLOSED
    assert [(e.kind, e.actor_id, e.to_value) for e in events] == [
        (EventKind.STATUS_CHANGED, None, "closed")]


def test_apply_refuses_an_unsaved_ticket() -> None:
    with pytest.raises(ValueError, match="store"):
        act(replace(ticket_in(Status.NEW), id=None), Action.ASSIGN)


def test_apply_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        naive = datetime(2025, 1, 1)  # noqa: DTZ001
        apply(ticket_in(Status.OPEN), Action.SOLVE, actor_id="ana", at=naive)


def test_apply_does_not_mutate_its_input() -> None:
    ticket = ticket_in(Status.NEW)
    act(ticket, Action.ASSIGN)
    assert ticket == ticket_in(Status.NEW)


# --- helpers ---------------------------------------------------------------------------------

def test_open_ticket_starts_new_and_unassigned() -> None:
    ticket = open_ticket(FORM, REQUESTER, T0)
    fields = (ticket.id, ticket.status, ticket.assignee_id, ticket.created_at, ticket.updated_at)
    assert fields == (None, Status.NEW, None, T0, T0)


@pytest.mark.parametrize(("word", "action"), [
    ("open", Action.REOPEN), ("Pending", Action.ASK_CUSTOMER), (" solved ", Action.SOLVE),
    ("solve", Action.SOLVE), ("reopen", Action.REOPEN), ("closed", None), ("new", None),
    ("", None),
])
def test_status_words_map_to_actions(word: str, action: Action | None) -> None:
    assert status_for_command(word) == action


@pytest.mark.parametrize(("status", "expected"), [
    (Status.NEW, {Action.ASSIGN, Action.CUSTOMER_REPLIED}),
    (Status.OPEN, {Action.ASSIGN, Action.UNASSIGN, Action.ASK_CUSTOMER, Action.CUSTOMER_REPLIED,
                   Action.SOLVE}),
    (Status.PENDING, {Action.ASSIGN, Action.UNASSIGN, Action.CUSTOMER_REPLIED, Action.REOPEN,
                      Action.SOLVE}),
    (Status.SOLVED, {Action.ASSIGN, Action.CUSTOMER_REPLIED, Action.REOPEN, Action.AUTO_CLOSE}),
    (Status.CLOSED, set()),
])
def test_allowed_actions_per_status(status: Status, expected: set[Action]) -> None:
    assert allowed_actions(ticket_in(status)) == expected


def test_allowed_actions_respect_the_guards() -> None:
    assert Action.SOLVE not in allowed_actions(ticket_in(Status.OPEN, assignee_id=None))
    assert Action.AUTO_CLOSE not in allowed_actions(replace(ticket_in(Status.SOLVED), hold=True))


@pytest.mark.parametrize(("status", "action"), list(product(Status, Action)))
def test_allowed_actions_agree_with_apply(status: Status, action: Action) -> None:
    ticket = ticket_in(status)
    try:
        act(ticket, action)
    except InvalidTransition:
        assert action not in allowed_actions(ticket)
    else:
        assert action in allowed_actions(ticket)


CLOSE_AFTER = timedelta(hours=48)


@pytest.mark.parametrize(("status", "hold", "last_customer", "now", "due"), [
    (Status.SOLVED, False, None, T0 + CLOSE_AFTER, True),
    (Status.SOLVED, False, None, T0 + CLOSE_AFTER - timedelta(seconds=1), False),
    (Status.SOLVED, True, None, T0 + timedelta(days=30), False),
    (Status.SOLVED, False, T0 - timedelta(hours=1), T0 + CLOSE_AFTER, True),
    (Status.SOLVED, False, T0 + timedelta(hours=1), T0 + CLOSE_AFTER, False),
    (Status.OPEN, False, None, T0 + CLOSE_AFTER, False),
    (Status.CLOSED, False, None, T0 + CLOSE_AFTER, False),
])
def test_auto_close_is_due_after_the_quiet_period(
    status: Status, hold: bool, last_customer: datetime | None, now: datetime, due: bool
) -> None:
    ticket = replace(ticket_in(status), hold=hold)
    assert auto_close_due(ticket, T0, last_customer, CLOSE_AFTER, now) is due


def test_hold_is_set_and_logged() -> None:
    changed, events = set_hold(ticket_in(Status.SOLVED), True, actor_id="ana", at=T1)
    assert changed.hold is True
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [
        (EventKind.HOLD_CHANGED, "false", "true")]


def test_hold_cannot_change_on_a_closed_ticket() -> None:
    with pytest.raises(TicketClosed):
        set_hold(ticket_in(Status.CLOSED), True, actor_id="ana", at=T1)
