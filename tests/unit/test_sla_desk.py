"""SLA feature glue, pure parts: [sla] config to policy, the watch instant, periods and stats."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, parse
from commands.sla import replies
from commands.sla.service import SlaDesk
from workflows.calendar import BusinessCalendar
from workflows.model import (
    EventKind, Form, Plan, Priority, Requester, Status, Ticket, TicketEvent, TicketForm,
)
from workflows.sla import DEFAULT_POLICY, Clock, Metric, State, Target, evaluate
from workflows.sla_period import Period, parse_period, period_stats
from workflows.sla_settings import TargetOverride, budget_text, build_targets, parse_days
from workflows.sla_watch import headline, notice_event, outbox_key, owed, sent, settle, watch_at

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
TOKEN = {"SUPPORTBOT_MATTERMOST__TOKEN": "tok"}
P, U = Plan.PREMIUM, Priority.URGENT


def make_ticket(ticket_id: int = 1, plan: Plan | None = P, priority: Priority = U,
                assignee: str | None = None) -> Ticket:
    form = TicketForm(Form.TECHNICAL, "s", "d", "general", priority=priority)
    return Ticket(ticket_id, form, Requester("u1", "alice", plan=plan), Status.NEW, T0, T0,
                  assignee_id=assignee)


def ev(kind: EventKind, at: datetime, ticket_id: int = 1, **kw: object) -> TicketEvent:
    return TicketEvent(ticket_id, kind, at, **kw)  # type: ignore[arg-type]


# --- config ------------------------------------------------------------------------------------

def test_sla_section_defaults_are_the_support_forms_table() -> None:
    s = parse({}, config_dir=".", environ=TOKEN)  # type: ignore[arg-type]
    assert s.sla.check_interval == timedelta(minutes=1) and s.sla.warn_at == 0.75
    assert dict(s.sla.policy().targets) == dict(DEFAULT_POLICY.targets)
    cal = s.sla.calendar()
    assert cal.days == frozenset(range(5)) and cal.opens.hour == 9 and cal.closes.hour == 17


def test_a_targets_row_replaces_only_the_cells_it_names() -> None:
    s = parse({"sla": {"warn_at": 0.5, "holidays": ["2026-12-25"], "business_days": ["mon", "sat"],
                       "targets": [{"plan": "enterprise", "priority": "urgent",
                                    "first_reply": "2h", "regular_update": "none"},
                                   {"plan": "premium", "priority": "normal", "clock": "calendar",
                                    "regular_update": "3d"}]}},
              config_dir=".", environ=TOKEN)  # type: ignore[arg-type]
    targets = s.sla.policy().targets
    E = Plan.ENTERPRISE
    assert targets[(E, U, Metric.FIRST_REPLY)] == Target(timedelta(hours=2), Clock.BUSINESS)
    assert targets[(E, U, Metric.NEXT_REPLY)] == DEFAULT_POLICY.targets[(E, U, Metric.NEXT_REPLY)]
    assert (E, U, Metric.REGULAR_UPDATE) not in targets
    n = Priority.NORMAL
    assert targets[(P, n, Metric.FIRST_REPLY)] == Target(timedelta(hours=8), Clock.CALENDAR)
    assert targets[(P, n, Metric.REGULAR_UPDATE)] == Target(timedelta(days=3), Clock.CALENDAR)
    assert s.sla.policy().warn_at == 0.5
    assert s.sla.calendar().holidays == frozenset({date(2026, 12, 25)})
    assert s.sla.calendar().days == frozenset({0, 5})


@pytest.mark.parametrize(("section", "key"), [
    ({"business_hours": "17:00-09:00"}, "sla.business_hours"),
    ({"business_days": ["funday"]}, "sla.business_days"),
    ({"fallback_timezone": "Mars/Olympus"}, "sla.fallback_timezone"),
    ({"warn_at": 1.5}, "sla.warn_at"),
    ({"targets": [{"plan": "premium", "priority": "urgent", "first_reply": "soon"}]},
     "sla.targets.0.first_reply"),
])
def test_bad_sla_settings_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        parse({"sla": section}, config_dir=".", environ=TOKEN)  # type: ignore[arg-type]


def test_next_business_day_cell_and_budget_text() -> None:
    table = build_targets([TargetOverride(P, Priority.LOW, {Metric.FIRST_REPLY: "next_business_day"})])
    cell = table[(P, Priority.LOW, Metric.FIRST_REPLY)]
    assert cell.next_business_day and budget_text(cell) == "next business day"
    assert budget_text(Target(timedelta(hours=24), Clock.BUSINESS)) == "24h business"
    assert budget_text(Target(timedelta(days=3), Clock.CALENDAR)) == "3d"
    assert parse_days(["Monday", "fri"]) == frozenset({0, 4})


# --- watch instant -------------------------------------------------------------------------------

def test_watch_is_the_warning_then_the_deadline_then_nothing() -> None:
    t, cal = make_ticket(), BusinessCalendar()
    opened = [ev(EventKind.OPENED, T0)]
    assert watch_at(evaluate(t, opened, DEFAULT_POLICY, cal, T0), set()) == T0 + timedelta(minutes=45)
    at_warn = evaluate(t, opened, DEFAULT_POLICY, cal, T0 + timedelta(minutes=50))
    [notice] = owed(at_warn, set())
    assert notice.state is State.WARNING
    assert watch_at(at_warn, set()) == T0 + timedelta(minutes=45)  # owed: due at once
    logged = [*opened, notice_event(notice, T0 + timedelta(minutes=50))]
    assert watch_at(at_warn, sent(logged)) == T0 + timedelta(hours=1)
    replied = [*logged, ev(EventKind.PUBLIC_REPLY, T0 + timedelta(minutes=55))]
    after = evaluate(t, replied, DEFAULT_POLICY, cal, T0 + timedelta(minutes=56))
    assert owed(after, sent(replied)) == []  # a met cycle owes nothing
    assert watch_at(after, sent(replied)) == T0 + timedelta(minutes=55, hours=18)


def test_settle_owes_the_notice_and_looks_again_at_the_deadline_once_it_is_logged() -> None:
    t, cal = make_ticket(), BusinessCalendar()
    opened = [ev(EventKind.OPENED, T0)]
    report = evaluate(t, opened, DEFAULT_POLICY, cal, T0 + timedelta(minutes=50))
    [notice], watch = settle(report, opened)
    assert notice.state is State.WARNING and watch == T0 + timedelta(hours=1)
    key = outbox_key(notice)
    assert key == "t1:sla:1:first_reply:" + notice.cycle_key + ":warning"
    logged = notice_event(notice, T0 + timedelta(minutes=50), key)
    assert logged.data["key"] == key and "post_id" not in logged.data
    assert settle(report, [*opened, logged]) == ([], T0 + timedelta(hours=1))  # never owed twice


def test_a_notice_mentions_the_assignee_else_whoever_is_on_call_else_here() -> None:
    names = {"a1": "sam", "o1": "tess", "o2": "lee"}
    assert replies.mention_for(make_ticket(assignee="a1"), names, ["o1"]) == "@sam"
    assert replies.mention_for(make_ticket(), names, ["o1", "o2"]) == "@tess @lee (unassigned)"
    assert replies.mention_for(make_ticket(), names, []) == "@here (unassigned)"
    assert replies.mention_for(make_ticket(assignee="gone"), names, []) == "The assignee:"


def test_a_raised_priority_makes_an_already_passed_breach_owed_at_once() -> None:
    t = make_ticket(priority=Priority.NORMAL)
    log = [ev(EventKind.OPENED, T0),
           ev(EventKind.PRIORITY_CHANGED, T0 + timedelta(hours=3), from_value="normal",
              to_value="urgent")]
    t = Ticket(**{**{f: getattr(t, f) for f in t.__slots__}, "form": TicketForm(  # type: ignore[attr-defined]
        Form.TECHNICAL, "s", "d", "general", priority=U)})
    r = evaluate(t, log, DEFAULT_POLICY, BusinessCalendar(), T0 + timedelta(hours=3))
    [notice] = owed(r, set())
    assert notice.state is State.BREACHED and watch_at(r, set()) == T0 + timedelta(hours=1)


def test_card_headline_and_line() -> None:
    t, cal = make_ticket(), BusinessCalendar()
    opened = [ev(EventKind.OPENED, T0)]
    now = T0 + timedelta(minutes=18)
    head = headline(evaluate(t, opened, DEFAULT_POLICY, cal, now))
    assert head is not None and replies.card_line(*head, now) == "First reply due in 42m"
    later = T0 + timedelta(hours=3)
    head = headline(evaluate(t, opened, DEFAULT_POLICY, cal, later))
    assert head is not None and replies.card_line(*head, later) == "First reply breached 2h ago"
    assert headline(evaluate(make_ticket(plan=None), opened, DEFAULT_POLICY, cal, later)) is None


# --- periods and stats ---------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "start", "label"), [
    ("", datetime(2026, 3, 4, 15, 30, tzinfo=UTC) - timedelta(days=7), "last 7d"),
    ("24h", datetime(2026, 3, 3, 15, 30, tzinfo=UTC), "last 24h"),
    ("today", datetime(2026, 3, 4, tzinfo=UTC), "today"),
    ("week", datetime(2026, 3, 2, tzinfo=UTC), "this week"),
    ("month", datetime(2026, 3, 1, tzinfo=UTC), "this month"),
])
def test_periods(word: str, start: datetime, label: str) -> None:
    now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday
    assert parse_period(word, now) == Period(start, now, label)


@pytest.mark.parametrize("word", ["fortnight", "-3d", "7", "7x"])
def test_bad_periods_are_refused(word: str) -> None:
    with pytest.raises(ValueError):
        parse_period(word, T0)


def test_period_stats_counts_replies_attainment_and_latest_csat() -> None:
    a, b = make_ticket(1, assignee="sam"), make_ticket(2, priority=Priority.HIGH)
    logs = {
        1: [ev(EventKind.OPENED, T0), ev(EventKind.PUBLIC_REPLY, T0 + timedelta(minutes=20)),
            ev(EventKind.STATUS_CHANGED, T0 + timedelta(hours=1), from_value="open", to_value="solved"),
            ev(EventKind.CSAT_RATED, T0 + timedelta(hours=2), to_value="bad"),
            ev(EventKind.CSAT_RATED, T0 + timedelta(hours=3), to_value="good")],
        2: [ev(EventKind.OPENED, T0, 2)],  # never answered: 2 h budget breached at T0+2h
    }
    period = Period(T0 - timedelta(days=1), T0 + timedelta(days=1), "x")
    s = period_stats([a, b], logs, DEFAULT_POLICY, lambda t: BusinessCalendar(), period)
    assert (s.opened, s.solved, s.csat_good, s.csat_bad) == (2, 1, 1, 0)
    assert s.first_reply.count == 1 and s.first_reply.median == timedelta(minutes=20)
    assert (s.attainment[Metric.FIRST_REPLY].met, s.attainment[Metric.FIRST_REPLY].breached) == (1, 1)
    assert [g.key for g in s.by_cell] == ["Premium Urgent", "Premium High"]
    assert [g.key for g in s.by_agent] == ["sam", ""]
    out = replies.stats_report(s, {"sam": "Sam"})
    assert "| Sam | 1 | 1 | 20m |" in out and "CSAT: **100% (1 good, 0 bad)**" in out


# --- the scheduled check's shortcuts (issue 10, per-due-ticket cost) -----------------------------
_KINDS = [EventKind.PUBLIC_REPLY, EventKind.CUSTOMER_MESSAGE, EventKind.STATUS_CHANGED,
          EventKind.PRIORITY_CHANGED, EventKind.INTERNAL_NOTE]


@pytest.mark.parametrize("seed", range(60))
def test_settle_looks_again_exactly_when_watch_at_says_once_the_owed_notices_are_logged(
    seed: int,
) -> None:
    """`settle`'s next instant is `watch_at` with the owed notices counted as sent (it no longer
    recomputes them), and the notices themselves are `owed`'s."""
    rnd = random.Random(seed)
    t = make_ticket(priority=rnd.choice(list(Priority)), plan=rnd.choice([P, Plan.ENTERPRISE]))
    log = [ev(EventKind.OPENED, T0)]
    for _ in range(rnd.randrange(6)):
        at = log[-1].at + timedelta(minutes=rnd.randrange(1, 600))
        kind = rnd.choice(_KINDS)
        extra: dict[str, object] = {}
        if kind is EventKind.STATUS_CHANGED:
            extra = {"to_value": rnd.choice(["open", "pending", "solved"])}
        elif kind is EventKind.PRIORITY_CHANGED:
            extra = {"from_value": t.priority.value, "to_value": rnd.choice(list(Priority)).value}
        log.append(ev(kind, at, **extra))
    now = log[-1].at + timedelta(minutes=rnd.randrange(0, 240))
    report = evaluate(t, log, DEFAULT_POLICY, BusinessCalendar(), now)
    if rnd.random() < 0.5:  # some notices already logged
        log += [notice_event(n, now) for n in owed(report, sent(log))[:1]]
    owe, watch = settle(report, log)
    assert owe == owed(report, sent(log))
    keys = {(n.metric.value, n.cycle_key, n.state.value) for n in owe}
    assert watch == watch_at(report, sent(log) | keys)


def test_the_desk_keeps_one_calendar_per_zone_until_its_calendar_changes() -> None:
    desk = SlaDesk(policy=DEFAULT_POLICY, calendar=BusinessCalendar())
    tokyo = desk.calendar_for("Asia/Tokyo")
    assert tokyo == BusinessCalendar().in_zone(ZoneInfo("Asia/Tokyo"))
    assert desk.calendar_for("Asia/Tokyo") is tokyo  # kept
    assert desk.calendar_for("Not/AZone") == desk.calendar  # unknown: the desk's own
    assert desk.calendar_for(None) is desk.calendar and desk.calendar_for("") is desk.calendar
    desk.calendar = BusinessCalendar(days=frozenset({0, 1, 2}))  # e.g. settings reloaded
    assert desk.calendar_for("Asia/Tokyo") == desk.calendar.in_zone(ZoneInfo("Asia/Tokyo"))
