"""SLA targets, the reply-cycle state machine, and the reporting helpers for /ticket stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.calendar import BusinessCalendar
from workflows.model import (
    EventKind,
    Form,
    Plan,
    Priority,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)
from workflows.sla import (
    DEFAULT_POLICY,
    DEFAULT_TARGETS,
    Clock,
    Metric,
    SlaPolicy,
    SlaReport,
    State,
    Target,
    evaluate,
    next_deadline,
    notices,
)
from workflows.sla_stats import Attainment, attainment, percentile, reply_times, samples

T0 = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)  # a Wednesday
H, M = timedelta(hours=1), timedelta(minutes=1)
LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
UTC_OFFICE = BusinessCalendar()
K, S = EventKind, Status


def make_ticket(plan: Plan | None = Plan.PREMIUM, priority: Priority = Priority.URGENT,
                created_at: datetime = T0, ticket_id: int = 7) -> Ticket:
    form = TicketForm(form=Form.TECHNICAL, subject="Server down", description="502s",
                      category="Server Issues", priority=priority)
    return Ticket(id=ticket_id, form=form, requester=Requester("u1", "carol", "Acme", plan),
                  status=Status.NEW, created_at=created_at, updated_at=created_at)


def ev(kind: EventKind, at: datetime, old: str | None = None,
       new: str | None = None) -> TicketEvent:
    return TicketEvent(ticket_id=7, kind=kind, at=at, from_value=old, to_value=new)


def status(at: datetime, old: Status, new: Status) -> TicketEvent:
    return ev(K.STATUS_CHANGED, at, old.value, new.value)


def reply(at: datetime) -> TicketEvent:
    return ev(K.PUBLIC_REPLY, at)


def message(at: datetime) -> TicketEvent:
    return ev(K.CUSTOMER_MESSAGE, at)


ASSIGNED = status(T0 + M, S.NEW, S.OPEN)


def report(events: list[TicketEvent], now: datetime, ticket: Ticket | None = None,
           calendar: BusinessCalendar = UTC_OFFICE) -> SlaReport:
    return evaluate(ticket or make_ticket(), events, DEFAULT_POLICY, calendar, now)


# --- the policy table ----------------------------------------------------------------------

def test_the_default_table_is_the_support_forms_table() -> None:
    first, nxt = Metric.FIRST_REPLY, Metric.NEXT_REPLY
    hours = {key: t.budget / H for key, t in DEFAULT_TARGETS.items() if t.budget}
    assert {(pr, m): hours[(Plan.PREMIUM, pr, m)] for pr in Priority for m in (first, nxt)} == {
        (Priority.URGENT, first): 1, (Priority.URGENT, nxt): 2,
        (Priority.HIGH, first): 2, (Priority.HIGH, nxt): 4,
        (Priority.NORMAL, first): 8, (Priority.NORMAL, nxt): 24,
        (Priority.LOW, first): 24, (Priority.LOW, nxt): 24,
    }
    assert [hours[(Plan.ENTERPRISE, pr, nxt)] for pr in Priority] == [4, 8, 24, 24]
    assert [hours.get((Plan.ENTERPRISE, pr, first)) for pr in Priority] == [4, 8, 24, None]
    assert DEFAULT_TARGETS[(Plan.ENTERPRISE, Priority.LOW, first)].next_business_day


@pytest.mark.parametrize(("plan", "priority", "clock"), [
    (Plan.PREMIUM, Priority.URGENT, Clock.CALENDAR),
    (Plan.PREMIUM, Priority.HIGH, Clock.CALENDAR),
    (Plan.PREMIUM, Priority.NORMAL, Clock.BUSINESS),
    (Plan.PREMIUM, Priority.LOW, Clock.BUSINESS),
    (Plan.ENTERPRISE, Priority.URGENT, Clock.BUSINESS),
    (Plan.ENTERPRISE, Priority.LOW, Clock.BUSINESS),
])
def test_premium_urgent_and_high_count_24x7_the_rest_business_hours(
    plan: Plan, priority: Priority, clock: Clock
) -> None:
    target = DEFAULT_POLICY.target(plan, priority, Metric.FIRST_REPLY)
    assert target is not None
    assert target.clock is clock


def test_regular_updates_default_to_premium_urgent_daily_only() -> None:
    updates = {k: t for k, t in DEFAULT_TARGETS.items() if k[2] is Metric.REGULAR_UPDATE}
    assert updates == {(Plan.PREMIUM, Priority.URGENT, Metric.REGULAR_UPDATE):
                       Target(24 * H, Clock.CALENDAR)}


def test_no_plan_means_no_target() -> None:
    assert DEFAULT_POLICY.target(None, Priority.URGENT, Metric.FIRST_REPLY) is None
    r = report([ASSIGNED, message(T0 + H)], T0 + 5 * H, make_ticket(plan=None))
    assert {m.state for m in r.metrics} == {State.NONE}
    assert next_deadline(r) is None


@pytest.mark.parametrize("bad", [
    lambda: Target(None), lambda: Target(H, next_business_day=True), lambda: Target(-H),
    lambda: SlaPolicy(warn_at=0), lambda: SlaPolicy(warn_at=1.5),
])
def test_nonsense_targets_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="target|budget|warn_at"):
        bad()  # type: ignore[operator]


# --- first reply ---------------------------------------------------------------------------

def test_first_reply_runs_from_creation_then_warns_then_breaches() -> None:
    running = report([ASSIGNED], T0 + 30 * M)[Metric.FIRST_REPLY]
    assert (running.state, running.cycle_key) == (State.RUNNING, "first")
    assert (running.warn_at, running.deadline_at) == (T0 + 45 * M, T0 + H)
    assert next_deadline(report([ASSIGNED], T0 + 30 * M)) == T0 + 45 * M

    warned = report([ASSIGNED], T0 + 50 * M)
    assert warned[Metric.FIRST_REPLY].state is State.WARNING
    assert next_deadline(warned) == T0 + H
    assert [(n.metric, n.cycle_key, n.state, n.at) for n in notices(warned)] == [
        (Metric.FIRST_REPLY, "first", State.WARNING, T0 + 45 * M)]

    breached = report([ASSIGNED], T0 + H)
    assert breached[Metric.FIRST_REPLY].state is State.BREACHED
    assert next_deadline(breached) is None
    assert [(n.state, n.at) for n in notices(breached)] == [(State.BREACHED, T0 + H)]


@pytest.mark.parametrize(("replied_after", "expected"), [
    (40 * M, State.MET), (H, State.MET), (H + M, State.BREACHED)])
def test_a_public_reply_stops_the_first_reply_clock(replied_after: timedelta,
                                                    expected: State) -> None:
    r = report([ASSIGNED, reply(T0 + replied_after)], T0 + 3 * H)
    first = r[Metric.FIRST_REPLY]
    assert (first.state, first.ended_at, first.used) == (expected, T0 + replied_after,
                                                         replied_after)
    assert not [n for n in notices(r) if n.metric is Metric.FIRST_REPLY]


def test_pending_does_not_pause_the_first_reply() -> None:
    events = [ASSIGNED, status(T0 + 10 * M, S.OPEN, S.PENDING)]
    assert report(events, T0 + 2 * H)[Metric.FIRST_REPLY].state is State.BREACHED


def test_business_hours_first_reply_in_the_requesters_zone() -> None:
    friday = datetime(2025, 6, 6, 16, 30, tzinfo=TOKYO)
    ticket = make_ticket(Plan.ENTERPRISE, Priority.NORMAL, created_at=friday)
    first = report([], friday + H, ticket, BusinessCalendar(tz=TOKYO))[Metric.FIRST_REPLY]
    assert first.state is State.RUNNING
    assert first.deadline_at == datetime(2025, 6, 11, 16, 30, tzinfo=TOKYO)  # 24 business hours
    assert first.used == 30 * M  # Friday 16:30-17:00 only


def test_next_business_day_target_is_due_at_the_following_days_close() -> None:
    monday = datetime(2025, 6, 9, 10, 0, tzinfo=LA)
    ticket = make_ticket(Plan.ENTERPRISE, Priority.LOW, created_at=monday)
    first = report([], monday, ticket, BusinessCalendar(tz=LA))[Metric.FIRST_REPLY]
    assert first.deadline_at == datetime(2025, 6, 10, 17, 0, tzinfo=LA)
    assert first.warn_at == datetime(2025, 6, 10, 13, 15, tzinfo=LA)  # 75% of 15 business hours


def test_a_priority_raised_mid_wait_applies_from_the_start_of_the_wait() -> None:
    ticket = make_ticket(priority=Priority.URGENT)  # now urgent; was normal (8 business hours)
    events = [ASSIGNED, ev(K.PRIORITY_CHANGED, T0 + 2 * H, "normal", "urgent")]
    assert report(events, T0 + 90 * M, ticket)[Metric.FIRST_REPLY].state is State.RUNNING
    after = report(events, T0 + 2 * H, ticket)[Metric.FIRST_REPLY]
    assert (after.state, after.deadline_at) == (State.BREACHED, T0 + H)


# --- next reply ----------------------------------------------------------------------------

ANSWERED = [ASSIGNED, reply(T0 + 10 * M)]


def test_next_reply_runs_from_the_oldest_unanswered_customer_message() -> None:
    events = [*ANSWERED, message(T0 + H), message(T0 + 90 * M)]
    nxt = report(events, T0 + 2 * H)[Metric.NEXT_REPLY]
    assert (nxt.state, nxt.started_at, nxt.deadline_at) == (State.RUNNING, T0 + H, T0 + 3 * H)
    assert nxt.cycle_key == (T0 + H).isoformat()
    answered = report([*events, reply(T0 + 2 * H)], T0 + 4 * H)[Metric.NEXT_REPLY]
    assert (answered.state, answered.ended_at) == (State.MET, T0 + 2 * H)


def test_each_reply_cycle_has_its_own_key() -> None:
    events = [*ANSWERED, message(T0 + H), reply(T0 + 2 * H), message(T0 + 5 * H)]
    late = report(events, T0 + 8 * H)
    assert late[Metric.NEXT_REPLY].cycle_key == (T0 + 5 * H).isoformat()
    assert late[Metric.NEXT_REPLY].state is State.BREACHED


def test_customer_messages_before_the_first_reply_are_first_reply_business() -> None:
    r = report([ASSIGNED, message(T0 + 5 * M)], T0 + 20 * M)
    assert r[Metric.NEXT_REPLY].state is State.NONE


def test_pending_pauses_next_reply_and_the_clock_resumes_where_it_stopped() -> None:
    events = [*ANSWERED, message(T0 + H), status(T0 + 90 * M, S.OPEN, S.PENDING)]
    paused = report(events, T0 + 4 * H)
    nxt = paused[Metric.NEXT_REPLY]
    assert (nxt.state, nxt.used, nxt.deadline_at) == (State.PAUSED, 30 * M, None)
    assert paused[Metric.REGULAR_UPDATE].state is State.PAUSED
    assert next_deadline(paused) is None
    resumed = report([*events, status(T0 + 5 * H, S.PENDING, S.OPEN)], T0 + 5 * H)
    assert resumed[Metric.NEXT_REPLY].deadline_at == T0 + 6 * H + 30 * M
    assert resumed[Metric.NEXT_REPLY].cycle_key == (T0 + H).isoformat()


def test_solving_stops_the_clocks_and_a_customer_reply_on_solved_restarts_them() -> None:
    events = [*ANSWERED, message(T0 + H), status(T0 + 2 * H, S.OPEN, S.SOLVED)]
    solved = report(events, T0 + 30 * H)
    assert solved[Metric.NEXT_REPLY].state is State.MET
    assert solved[Metric.REGULAR_UPDATE].state is State.MET
    assert next_deadline(solved) is None
    assert notices(solved) == ()

    reopened_at = T0 + 30 * H
    reopen = [message(reopened_at), status(reopened_at, S.SOLVED, S.OPEN),
              ev(K.REOPENED, reopened_at, "solved", "open")]
    again = report([*events, *reopen], reopened_at + H)
    assert again[Metric.NEXT_REPLY].state is State.RUNNING
    assert again[Metric.NEXT_REPLY].deadline_at == reopened_at + 2 * H
    assert again[Metric.NEXT_REPLY].cycle_key == reopened_at.isoformat()
    assert again[Metric.REGULAR_UPDATE].deadline_at == reopened_at + 24 * H


def test_reopen_order_does_not_matter() -> None:
    base = [*ANSWERED, status(T0 + H, S.OPEN, S.SOLVED)]
    at = T0 + 3 * H
    a = report([*base, message(at), status(at, S.SOLVED, S.OPEN)], at + H)
    b = report([*base, status(at, S.SOLVED, S.OPEN), message(at)], at + H)
    assert a == b


def test_solving_after_the_deadline_records_a_breach() -> None:
    events = [*ANSWERED, message(T0 + H), status(T0 + 4 * H, S.OPEN, S.SOLVED)]
    assert report(events, T0 + 5 * H)[Metric.NEXT_REPLY].state is State.BREACHED


def test_a_message_on_a_closed_ticket_starts_nothing() -> None:
    events = [*ANSWERED, status(T0 + H, S.OPEN, S.SOLVED), status(T0 + 2 * H, S.SOLVED, S.CLOSED),
              message(T0 + 3 * H)]
    r = report(events, T0 + 9 * H)
    assert r[Metric.NEXT_REPLY].state is State.NONE
    assert next_deadline(r) is None


# --- regular updates -----------------------------------------------------------------------

def test_regular_update_gap_starts_at_each_public_reply() -> None:
    r = report([*ANSWERED, reply(T0 + 5 * H)], T0 + 6 * H)
    gap = r[Metric.REGULAR_UPDATE]
    assert (gap.state, gap.cycle_key) == (State.RUNNING, (T0 + 5 * H).isoformat())
    assert gap.deadline_at == T0 + 29 * H
    late = report([*ANSWERED], T0 + 25 * H)[Metric.REGULAR_UPDATE]
    assert (late.state, late.cycle_key) == (State.BREACHED, (T0 + 10 * M).isoformat())


def test_pending_pauses_regular_updates_unless_escalated() -> None:
    pending = [*ANSWERED, status(T0 + H, S.OPEN, S.PENDING)]
    assert report(pending, T0 + 40 * H)[Metric.REGULAR_UPDATE].state is State.PAUSED
    escalated = [*ANSWERED, ev(K.ESCALATED, T0 + 20 * M), status(T0 + H, S.OPEN, S.PENDING)]
    assert report(escalated, T0 + 40 * H)[Metric.REGULAR_UPDATE].state is State.BREACHED
    declined = [*escalated, ev(K.ESCALATION_STAGE, T0 + 2 * H, None, "declined")]
    paused = report(declined, T0 + 40 * H)[Metric.REGULAR_UPDATE]
    assert (paused.state, paused.used) == (State.PAUSED, 2 * H - 10 * M)


def test_no_regular_update_target_outside_premium_urgent() -> None:
    ticket = make_ticket(priority=Priority.HIGH)
    assert report(ANSWERED, T0 + 90 * H, ticket)[Metric.REGULAR_UPDATE].state is State.NONE


# --- the report as a whole -----------------------------------------------------------------

def test_next_deadline_is_the_earliest_future_instant_over_all_metrics() -> None:
    r = report([*ANSWERED, message(T0 + H)], T0 + H)
    assert next_deadline(r) == T0 + H + 90 * M  # next-reply warning; the update is due later


def test_events_after_now_are_not_yet_known_and_order_does_not_matter() -> None:
    events = [reply(T0 + 5 * H), ASSIGNED]
    assert report(events, T0 + 30 * M) == report([ASSIGNED], T0 + 30 * M)
    assert report(events, T0 + 6 * H) == report(list(reversed(events)), T0 + 6 * H)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        report([ASSIGNED], datetime(2025, 3, 5, 12, 0))  # noqa: DTZ001 - the point of the test


EVENT_KINDS = st.sampled_from([
    (K.PUBLIC_REPLY, None, None), (K.CUSTOMER_MESSAGE, None, None),
    *[(K.STATUS_CHANGED, None, s.value) for s in Status],
    (K.ESCALATED, None, None), (K.ESCALATION_STAGE, None, "declined"),
    *[(K.PRIORITY_CHANGED, None, p.value) for p in Priority],
])


@given(st.lists(st.tuples(st.integers(0, 72 * 60), EVENT_KINDS), max_size=12),
       st.integers(0, 96 * 60), st.sampled_from([None, *Plan]), st.sampled_from(Priority))
def test_any_history_gives_a_consistent_report(
    history: list[tuple[int, tuple[EventKind, None, str | None]]], now_minutes: int,
    plan: Plan | None, priority: Priority,
) -> None:
    events = [ev(kind, T0 + minutes * M, old, new) for minutes, (kind, old, new) in history]
    now = T0 + now_minutes * M
    r = report(events, now, make_ticket(plan, priority), BusinessCalendar(tz=LA))
    for m in r.metrics:
        if m.state in (State.RUNNING, State.WARNING):
            assert m.deadline_at is not None
            assert m.warn_at is not None
            assert m.warn_at <= m.deadline_at
            assert now < m.deadline_at
            assert (m.state is State.WARNING) == (m.warn_at <= now)
        if m.state is State.PAUSED:
            assert m.deadline_at is None
    due = next_deadline(r)
    assert due is None or due > now


# --- reporting -----------------------------------------------------------------------------

def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([5.0], 90) == 5.0
    assert percentile([], 50) is None
    assert percentile([H, 3 * H], 50) == 2 * H
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_stats_from_many_tickets() -> None:
    fast, slow = make_ticket(ticket_id=1), make_ticket(ticket_id=2, created_at=T0 + H)
    unplanned = make_ticket(plan=None, ticket_id=3)
    now = T0 + 10 * H
    pool = [
        *samples(fast, [ASSIGNED, reply(T0 + 20 * M), message(T0 + H), reply(T0 + 2 * H)],
                 DEFAULT_POLICY, UTC_OFFICE, now),
        *samples(slow, [reply(T0 + 4 * H)], DEFAULT_POLICY, UTC_OFFICE, now),
        *samples(unplanned, [reply(T0 + 30 * M)], DEFAULT_POLICY, UTC_OFFICE, now),
    ]
    firsts = reply_times(pool, Metric.FIRST_REPLY, T0, now)
    assert sorted(firsts) == [20 * M, 30 * M, 3 * H]
    assert percentile(firsts, 50) == 30 * M
    assert reply_times(pool, Metric.NEXT_REPLY, T0, now) == [H]
    scores = attainment(pool, T0, now)
    assert (scores[Metric.FIRST_REPLY].met, scores[Metric.FIRST_REPLY].breached) == (1, 1)
    assert scores[Metric.NEXT_REPLY].rate == 1.0
    assert scores[Metric.REGULAR_UPDATE] == Attainment(met=1)  # 20 min -> 2 h, then open
    assert reply_times(pool, Metric.FIRST_REPLY, T0 + 5 * H, now) == []
