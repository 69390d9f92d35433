"""The SET escalation stages: the transition table, their facts, and the customer-update rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from workflows.escalation import (
    FINAL,
    STAGES,
    TRANSITIONS,
    AmbiguousCustomerUpdate,
    BadLink,
    CannotEscalate,
    CustomerUpdate,
    Escalation,
    EscalationError,
    EscalationForm,
    InvalidMove,
    MissingCustomerUpdate,
    MissingDetail,
    Move,
    Severity,
    Stage,
    advance,
    next_moves,
    open_escalation,
    template,
)
from workflows.lifecycle import open_ticket
from workflows.model import EventKind, Form, Requester, Status, Ticket, TicketForm
from workflows.sla import ESCALATION_ENDS

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=2)
FORM = EscalationForm(reason="Search index lost", steps="1. upgrade 2. search", impact="All users",
                      severity=Severity.MAJOR)
SENT = CustomerUpdate(message="We escalated it.")
SKIPPED = CustomerUpdate(skip_reason="Customer asked for updates by phone only")
DETAIL = {Stage.CONFIRMED: "https://github.com/mattermost/mattermost/pull/1",
          Stage.ACTION_PLAN: "Rebuild the index on upgrade", Stage.RELEASED: "10.12.1",
          Stage.DECLINED: "Their proxy strips the header", Stage.FIX_TESTED: ""}


def make_ticket(**overrides: object) -> Ticket:
    ticket = replace(open_ticket(TicketForm(Form.TECHNICAL, "Search", "Nothing found", "search"),
                                 Requester("cust1", "carol"), T0), id=12)
    return replace(ticket, **overrides)  # type: ignore[arg-type]


def make_escalation(stage: Stage = Stage.ESCALATED, **overrides: object) -> Escalation:
    esc = Escalation(12, stage, FORM, opened_by="sam", opened_at=T0, updated_at=T0)
    return replace(esc, **overrides)  # type: ignore[arg-type]


ALLOWED = sorted(TRANSITIONS.items())
FORBIDDEN = sorted(set(product(Stage, Move)) - TRANSITIONS.keys())


@pytest.mark.parametrize(("key", "to"), ALLOWED)
def test_every_move_in_the_table_reaches_its_stage_and_logs_it(key: tuple[Stage, Move],
                                                               to: Stage) -> None:
    stage, move = key
    esc = make_escalation(stage, closed_at=None)
    moved, event = advance(esc, move, detail=DETAIL[to], update=SENT, actor_id="erin", at=T1)
    assert moved.stage is to
    assert (event.kind, event.from_value, event.to_value) == (EventKind.ESCALATION_STAGE,
                                                              stage.value, to.value)
    assert event.data["update"] == "sent"
    assert moved.closed_at == (T1 if to in FINAL else None)


@pytest.mark.parametrize(("stage", "move"), FORBIDDEN)
def test_moves_outside_the_table_are_refused(stage: Stage, move: Move) -> None:
    with pytest.raises(EscalationError):
        advance(make_escalation(stage), move, detail="x", update=SENT, actor_id="erin", at=T1)


@pytest.mark.parametrize(("key", "to"), ALLOWED)
def test_a_stage_without_a_customer_update_is_refused(key: tuple[Stage, Move], to: Stage) -> None:
    with pytest.raises(MissingCustomerUpdate):
        advance(make_escalation(key[0]), key[1], detail=DETAIL[to], update=CustomerUpdate(),
                actor_id="erin", at=T1)


@pytest.mark.parametrize(("key", "to"), ALLOWED)
def test_a_stage_whose_update_is_skipped_with_a_reason_is_done(key: tuple[Stage, Move],
                                                               to: Stage) -> None:
    moved, event = advance(make_escalation(key[0]), key[1], detail=DETAIL[to], update=SKIPPED,
                           actor_id="erin", at=T1)
    assert moved.stage is to
    assert event.data == {"update": "skipped", "skip_reason": SKIPPED.skip_reason,
                          **({"detail": DETAIL[to]} if DETAIL[to] else {})}


def test_sending_and_skipping_at_once_is_refused() -> None:
    with pytest.raises(AmbiguousCustomerUpdate):
        CustomerUpdate(message="Hello", skip_reason="no").check()


def test_a_blank_skip_reason_is_no_reason() -> None:
    with pytest.raises(MissingCustomerUpdate):
        CustomerUpdate(message="  ", skip_reason="   ").check()


@pytest.mark.parametrize("to", [s for s in Stage if STAGES[s].detail is not None])
def test_stages_that_need_a_fact_refuse_without_it(to: Stage) -> None:
    (stage, move), = [k for k, v in TRANSITIONS.items() if v is to][:1]
    with pytest.raises(MissingDetail):
        advance(make_escalation(stage), move, detail=" ", update=SENT, actor_id="erin", at=T1)


def test_the_confirmation_link_must_be_a_link() -> None:
    with pytest.raises(BadLink):
        advance(make_escalation(), Move.CONFIRM, detail="PR 12", update=SENT, actor_id="e", at=T1)


def test_the_final_stages_are_the_ones_the_sla_engine_ends_escalation_on() -> None:
    assert {s.value for s in FINAL} == set(ESCALATION_ENDS)


def test_a_closed_escalation_cannot_move() -> None:
    closed = make_escalation(Stage.ESCALATED, closed_at=T0)
    with pytest.raises(EscalationError):
        advance(closed, Move.CONFIRM, detail=DETAIL[Stage.CONFIRMED], update=SENT, actor_id="e",
                at=T1)


def test_details_accumulate_per_stage() -> None:
    esc, _ = advance(make_escalation(), Move.CONFIRM, detail=DETAIL[Stage.CONFIRMED], update=SENT,
                     actor_id="e", at=T1)
    esc, _ = advance(esc, Move.PLAN, detail="Rebuild", update=SENT, actor_id="e", at=T1)
    assert esc.details == {"confirmed": DETAIL[Stage.CONFIRMED], "action_plan": "Rebuild"}


@pytest.mark.parametrize("stage", list(Stage))
def test_every_stage_has_a_customer_template_naming_the_ticket(stage: Stage) -> None:
    message = template(stage, 12, DETAIL.get(stage, ""))
    assert "#12" in message and "{" not in message
    if DETAIL.get(stage) and stage is not Stage.CONFIRMED:
        assert DETAIL[stage] in message  # the plan, version or reason is in the update


def test_open_stages_offer_their_next_step_then_decline() -> None:
    assert next_moves(Stage.ESCALATED) == [Move.CONFIRM, Move.DECLINE]
    assert next_moves(Stage.FIX_TESTED) == [Move.RELEASE, Move.DECLINE]
    assert next_moves(Stage.RELEASED) == [] and next_moves(Stage.DECLINED) == []


def test_escalating_starts_at_escalated_and_logs_escalated() -> None:
    esc, event = open_escalation(make_ticket(status=Status.OPEN), FORM, SENT, open_now=None,
                                 actor_id="sam", at=T1)
    assert (esc.stage, esc.ticket_id, esc.opened_at) == (Stage.ESCALATED, 12, T1)
    assert esc.closed_at is None
    assert (event.kind, event.to_value, event.data["severity"]) == (EventKind.ESCALATED,
                                                                    "escalated", "major")


def test_a_ticket_is_escalated_once_at_a_time() -> None:
    with pytest.raises(CannotEscalate):
        open_escalation(make_ticket(), FORM, SENT, open_now=make_escalation(), actor_id="sam",
                        at=T1)


@pytest.mark.parametrize("status", [Status.SOLVED, Status.CLOSED])
def test_solved_and_closed_tickets_cannot_be_escalated(status: Status) -> None:
    with pytest.raises(CannotEscalate):
        open_escalation(make_ticket(status=status), FORM, SENT, open_now=None, actor_id="s", at=T1)


def test_escalating_needs_the_customer_update_too() -> None:
    with pytest.raises(MissingCustomerUpdate):
        open_escalation(make_ticket(), FORM, CustomerUpdate(), open_now=None, actor_id="s", at=T1)


def test_invalid_move_explains_itself_in_one_sentence() -> None:
    exc = InvalidMove(Stage.ESCALATED, Move.RELEASE)
    assert str(exc) == ("The escalation is at “Escalated to SET”, "
                        "so “Fix released” can't be done now.")
