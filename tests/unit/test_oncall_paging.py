"""The paging decision: who is paged about which ticket, when, and the PagerDuty event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.model import Form, Plan, Priority, Requester, Status, Ticket, TicketForm
from workflows.paging import (
    CHANNEL,
    PageDecision,
    PageReason,
    PageSent,
    PageState,
    PagingPolicy,
    pagerduty_event,
    pages_due,
    ticket_dedup_key,
)
from workflows.rota import Level, Override, Region, Rota

T0 = datetime(2025, 3, 24, 10, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
ALWAYS = Region("ALL", UTC_ZONE, time(0), time(0), ("pat",), secondary=("sam",))
ROTA = Rota((ALWAYS,), lead=("lee",))
POLICY = PagingPolicy(ack_timeout=timedelta(minutes=10), repeat=2)
REPAGE = replace(POLICY, repage_on_customer_reply=True)
P, S, L = Level.PRIMARY, Level.SECONDARY, Level.LEAD
NEW, MSG = PageReason.NEW_TICKET, PageReason.CUSTOMER_MESSAGE
LATE, ALL = PageReason.NOT_ACKNOWLEDGED, PageReason.CHAIN_EXHAUSTED


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def state(**facts: object) -> PageState:
    base = PageState(42, Plan.PREMIUM, Priority.URGENT, Status.OPEN, created_at=T0)
    return replace(base, **facts)  # type: ignore[arg-type]


def sent(*pages: tuple[int, str, float]) -> tuple[PageSent, ...]:
    return tuple(PageSent(round_, level, minutes(m)) for round_, level, m in pages)


def due(page_state: PageState, now: datetime, policy: PagingPolicy = POLICY) -> list[tuple]:
    decisions = pages_due([page_state], ROTA, (), set(), policy, now)
    return [(d.level, d.round, d.user, d.reason) for d in decisions]


REPLIED = {"first_public_reply_at": minutes(5), "last_customer_message_at": minutes(30)}
CHAIN = [(1, P, 0), (1, S, 10), (1, L, 20), (2, P, 30), (2, S, 40), (2, L, 50), (3, P, 60)]

TABLE = [
    ("premium urgent is paged", state(), T0, [(P, 1, "pat", NEW)]),
    ("premium high is paged", state(priority=Priority.HIGH), T0, [(P, 1, "pat", NEW)]),
    ("enterprise urgent is not", state(plan=Plan.ENTERPRISE), T0, []),
    ("no plan is not", state(plan=None), T0, []),
    ("premium normal is not", state(priority=Priority.NORMAL), T0, []),
    ("premium low is not", state(priority=Priority.LOW), T0, []),
    ("a late first check pages", state(), minutes(7), [(P, 1, "pat", NEW)]),
    ("acknowledgement stops", state(acknowledged_at=minutes(1)), minutes(2), []),
    (
        "acknowledgement stops escalation",
        state(acknowledged_at=minutes(3), pages_sent=sent((1, P, 0))),
        minutes(30),
        [],
    ),
    ("the first reply resolves", state(first_public_reply_at=minutes(1)), minutes(2), []),
    ("solved needs no page", state(status=Status.SOLVED), T0, []),
    ("closed needs no page", state(status=Status.CLOSED), T0, []),
    ("pending still pages", state(status=Status.PENDING), T0, [(P, 1, "pat", NEW)]),
    ("within ack_timeout waits", state(pages_sent=sent((1, P, 0))), minutes(9.9), []),
    (
        "timeout escalates to secondary",
        state(pages_sent=sent((1, P, 0))),
        minutes(10),
        [(S, 1, "sam", LATE)],
    ),
    ("then to the lead", state(pages_sent=sent(*CHAIN[:2])), minutes(20), [(L, 1, "lee", LATE)]),
    (
        "then the chain repeats",
        state(pages_sent=sent(*CHAIN[:3])),
        minutes(30),
        [(P, 2, "pat", LATE)],
    ),
    (
        "after 1 + repeat rounds, the channel",
        state(pages_sent=sent(*CHAIN, (3, S, 70), (3, L, 80))),
        minutes(90),
        [(CHANNEL, 3, None, ALL)],
    ),
    (
        "the channel is alerted once",
        state(pages_sent=sent(*CHAIN, (3, S, 70), (3, L, 80), (3, CHANNEL, 90))),
        minutes(500),
        [],
    ),
    (
        "a late check pages one level",
        state(pages_sent=sent((1, P, 0))),
        minutes(45),
        [(S, 1, "sam", LATE)],
    ),
    (
        "late counts from the last page",
        state(pages_sent=sent((1, P, 0), (1, S, 45))),
        minutes(50),
        [],
    ),
    ("a re-raise is ignored by default", state(**REPLIED), minutes(31), []),
]

# With repage_on_customer_reply: a customer message after a staff reply opens a new episode.
RE_RAISE_TABLE = [
    ("re-raise pages when configured", state(**REPLIED), minutes(31), [(P, 1, "pat", MSG)]),
    (
        "re-raise of a high ticket does not",
        state(priority=Priority.HIGH, **REPLIED),
        minutes(31),
        [],
    ),
    (
        "re-raise continues the round numbers",
        state(pages_sent=sent((1, P, 0), (1, S, 10)), **REPLIED),
        minutes(31),
        [(P, 2, "pat", MSG)],
    ),
    (
        "re-raise escalates on its own pages",
        state(pages_sent=sent((1, P, 0), (2, P, 31)), **REPLIED),
        minutes(41),
        [(S, 2, "sam", LATE)],
    ),
    (
        "an old ack does not stop a re-raise",
        state(acknowledged_at=minutes(2), **REPLIED),
        minutes(31),
        [(P, 1, "pat", MSG)],
    ),
    ("a new ack stops a re-raise", state(acknowledged_at=minutes(32), **REPLIED), minutes(33), []),
    (
        "an answered re-raise stops",
        state(last_public_reply_at=minutes(35), **REPLIED),
        minutes(36),
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "page_state", "now", "expected"), TABLE, ids=[t[0] for t in TABLE]
)
def test_paging_decision(name: str, page_state: PageState, now: datetime, expected: list) -> None:
    assert due(page_state, now) == expected


@pytest.mark.parametrize(
    ("name", "page_state", "now", "expected"), RE_RAISE_TABLE, ids=[t[0] for t in RE_RAISE_TABLE]
)
def test_repaging_decision(
    name: str, page_state: PageState, now: datetime, expected: list
) -> None:
    assert due(page_state, now, REPAGE) == expected


def run_checks(page_state: PageState, checks: list[datetime], policy: PagingPolicy = POLICY):
    """Run the check at each instant, feeding every page back as the job would store it."""
    history: list[tuple[float, str, int]] = []
    for now in checks:
        for d in pages_due([page_state], ROTA, (), set(), policy, now):
            page_state = replace(
                page_state, pages_sent=(*page_state.pages_sent, PageSent(d.round, d.level, now))
            )
            history.append(((now - T0) / timedelta(minutes=1), str(d.level), d.round))
    return history


def test_every_minute_the_chain_runs_its_rounds_then_alerts_the_channel_once() -> None:
    history = run_checks(state(), [minutes(m) for m in range(0, 180)])
    assert history == [
        (0, "primary", 1), (10, "secondary", 1), (20, "lead", 1),
        (30, "primary", 2), (40, "secondary", 2), (50, "lead", 2),
        (60, "primary", 3), (70, "secondary", 3), (80, "lead", 3),
        (90, "channel", 3),
    ]  # fmt: skip


def test_a_bot_down_for_an_hour_pages_one_level_per_check() -> None:
    checks = [minutes(0), minutes(65), minutes(66), minutes(75), minutes(76)]
    assert run_checks(state(), checks) == [
        (0, "primary", 1),
        (65, "secondary", 1),
        (75, "lead", 1),
    ]


def test_repeat_zero_runs_the_chain_once() -> None:
    history = run_checks(state(), [minutes(m) for m in range(0, 60)], replace(POLICY, repeat=0))
    assert [level for _, level, _ in history] == ["primary", "secondary", "lead", "channel"]


def test_a_level_nobody_holds_is_skipped() -> None:
    no_secondary = Rota((replace(ALWAYS, secondary=()),), lead=("lee",))
    page_state = state(pages_sent=sent((1, P, 0)))
    [decision] = pages_due([page_state], no_secondary, (), set(), POLICY, minutes(10))
    assert (decision.level, decision.round, decision.user) == (L, 1, "lee")


def test_in_a_gap_in_cover_the_lead_is_paged_first() -> None:
    office = Rota((Region("EU", UTC_ZONE, time(8), time(16), ("pat",)),), lead=("lee",))
    [decision] = pages_due([state()], office, (), set(), POLICY, T0.replace(hour=20))
    assert (decision.level, decision.user) == (L, "lee")


def test_with_nobody_at_all_the_channel_is_alerted() -> None:
    [decision] = pages_due([state()], Rota(()), (), set(), POLICY, T0)
    assert decision == PageDecision(42, CHANNEL, 1 + POLICY.repeat, None, ALL)


def test_an_override_is_paged_instead_of_the_scheduled_person() -> None:
    cover = Override("ova", minutes(-60), minutes(60))
    [decision] = pages_due([state()], ROTA, [cover], set(), POLICY, T0)
    assert decision.user == "ova"


def test_a_page_already_sent_is_not_sent_again() -> None:
    assert pages_due([state()], ROTA, (), {(42, 1, "primary")}, POLICY, T0) == []


def test_each_ticket_is_decided_on_its_own() -> None:
    tickets = [
        state(),
        state(ticket_id=7, plan=Plan.ENTERPRISE),
        state(ticket_id=9, pages_sent=sent((1, P, 0))),
    ]
    decisions = pages_due(tickets, ROTA, (), set(), POLICY, minutes(10))
    assert [(d.ticket_id, d.level, d.key) for d in decisions] == [
        (42, P, (42, 1, "primary")),
        (9, S, (9, 1, "secondary")),
    ]


def test_the_chain_lists_each_round_then_the_channel() -> None:
    policy = PagingPolicy(repeat=1, levels=(P, L))
    assert policy.chain == ((1, P), (1, L), (2, P), (2, L), (2, CHANNEL))


def test_a_policy_without_levels_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        PagingPolicy(levels=())


# -- from a ticket, and to PagerDuty ----------------------------------------------------------


def ticket(**changes: object) -> Ticket:
    form = TicketForm(
        Form.TECHNICAL,
        "Server down",
        "Nobody can log in",
        "Server Issues",
        Priority.URGENT,
        environment="Production",
        mattermost_version="10.11.2",
    )
    requester = Requester("u1", "carol", organisation="Acme", plan=Plan.PREMIUM)
    base = Ticket(42, form, requester, Status.OPEN, created_at=T0, updated_at=T0)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_page_state_takes_the_ticket_fields() -> None:
    assert PageState.of(ticket(), acknowledged_at=minutes(1)) == state(acknowledged_at=minutes(1))
    with pytest.raises(ValueError, match="stored"):
        PageState.of(ticket(id=None))


def test_pagerduty_trigger_carries_the_ticket() -> None:
    event = pagerduty_event(
        "trigger", ticket(), "R0UT1NG", ticket_url="https://mm.example.com/t/42"
    )
    assert event == {
        "routing_key": "R0UT1NG",
        "event_action": "trigger",
        "dedup_key": "supportdesk-ticket-42",
        "payload": {
            "summary": "#42 Premium Urgent: Server down",
            "source": "mattermost-support-desk",
            "severity": "critical",
            "timestamp": "2025-03-24T10:00:00+00:00",
            "component": "Server Issues",
            "group": "Acme",
            "class": "technical",
            "custom_details": {
                "ticket": 42,
                "plan": "premium",
                "priority": "urgent",
                "status": "open",
                "organisation": "Acme",
                "requester": "carol",
                "category": "Server Issues",
                "environment": "Production",
                "mattermost_version": "10.11.2",
            },
        },
        "links": [{"href": "https://mm.example.com/t/42", "text": "Ticket #42"}],
    }


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_pagerduty_acknowledge_and_resolve_carry_only_the_keys(action: str) -> None:
    assert pagerduty_event(action, ticket(), "R0UT1NG") == {  # type: ignore[arg-type]
        "routing_key": "R0UT1NG",
        "event_action": action,
        "dedup_key": ticket_dedup_key(42),
    }


def test_pagerduty_summary_is_cut_to_the_api_limit_and_keys_can_be_given() -> None:
    long = ticket(form=replace(ticket().form, subject="x" * 2000, priority=Priority.HIGH))
    event = pagerduty_event("trigger", long, "R", "custom-key")
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["severity"] == "error"
    assert event["dedup_key"] == "custom-key"


def test_pagerduty_refuses_unknown_actions_and_unstored_tickets() -> None:
    with pytest.raises(ValueError, match="action"):
        pagerduty_event("snooze", ticket(), "R")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stored"):
        pagerduty_event("trigger", ticket(id=None), "R")
