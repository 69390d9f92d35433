"""Whom to page about a Premium urgent ticket, when; its PagerDuty event. Pure: `now` is given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, TypeAlias

from workflows.model import Plan, Priority, Status, Ticket
from workflows.rota import Level, Override, Rota, Shift, who_is_on_call

CHANNEL: Final = "channel"  # the level after the last round: alert the whole support channel
PageLevel: TypeAlias = Level | Literal["channel"]
PageKey: TypeAlias = tuple[int, int, str]  # (ticket_id, round, level), unique per page sent
PagerDutyAction: TypeAlias = Literal["trigger", "acknowledge", "resolve"]

# Premium Support: Urgent and High are covered 24x7 and page the on-call (support-forms.md).
PAGEABLE: Final = frozenset({(Plan.PREMIUM, Priority.URGENT), (Plan.PREMIUM, Priority.HIGH)})
# With repage_on_customer_reply, a customer message after a staff reply pages again for these.
REPAGEABLE: Final = frozenset({(Plan.PREMIUM, Priority.URGENT)})
FINISHED: Final = frozenset({Status.SOLVED, Status.CLOSED})
SEVERITY: Final = {
    Priority.URGENT: "critical",
    Priority.HIGH: "error",
    Priority.NORMAL: "warning",
    Priority.LOW: "info",
}


class PageReason(StrEnum):
    NEW_TICKET = "new_ticket"  # no staff reply yet
    CUSTOMER_MESSAGE = "customer_message"  # re-raised by the customer after a staff reply
    NOT_ACKNOWLEDGED = "not_acknowledged"  # the previous page's ack_timeout ran out
    CHAIN_EXHAUSTED = "chain_exhausted"  # every round went unacknowledged: the channel alert


@dataclass(frozen=True, slots=True)
class PageSent:
    """A page that went out: its round, its level (or "channel") and when."""

    round: int
    level: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PageState:
    """What paging needs to know about one ticket; `pages_sent` holds every page it ever had."""

    ticket_id: int
    plan: Plan | None
    priority: Priority
    status: Status
    created_at: datetime
    first_public_reply_at: datetime | None = None
    acknowledged_at: datetime | None = None  # the latest acknowledgement
    pages_sent: tuple[PageSent, ...] = ()
    last_customer_message_at: datetime | None = None
    last_public_reply_at: datetime | None = None  # to tell whether a re-raise was answered

    @classmethod
    def of(cls, ticket: Ticket, **facts: Any) -> PageState:
        """The ticket's own fields, plus the reply, acknowledgement and page facts given."""
        if ticket.id is None:
            raise ValueError("a ticket must be stored before it can be paged")
        return cls(
            ticket.id, ticket.plan, ticket.priority, ticket.status, ticket.created_at, **facts
        )


@dataclass(frozen=True, slots=True)
class PagingPolicy:
    """Page each level, `ack_timeout` apart; run the chain 1 + `repeat` times; then the channel."""

    ack_timeout: timedelta = timedelta(minutes=10)
    repeat: int = 2  # repeats after the first round, as PagerDuty's escalation "loops"
    levels: tuple[Level, ...] = (Level.PRIMARY, Level.SECONDARY, Level.LEAD)
    pageable: frozenset[tuple[Plan, Priority]] = PAGEABLE
    repage_on_customer_reply: bool = False
    repageable: frozenset[tuple[Plan, Priority]] = REPAGEABLE

    def __post_init__(self) -> None:
        if self.ack_timeout <= timedelta(0) or self.repeat < 0 or not self.levels:
            raise ValueError("paging needs ack_timeout > 0, repeat >= 0 and at least one level")

    @property
    def chain(self) -> tuple[tuple[int, PageLevel], ...]:
        """Every (round, level) step of one episode in order, the channel alert last."""
        rounds = self.repeat + 1
        steps = [(r, level) for r in range(1, rounds + 1) for level in self.levels]
        return (*steps, (rounds, CHANNEL))


@dataclass(frozen=True, slots=True)
class PageDecision:
    """Page `user` at `level` (user None: alert the channel) about a ticket, and why."""

    ticket_id: int
    level: PageLevel
    round: int
    user: str | None
    reason: PageReason

    @property
    def key(self) -> PageKey:
        return (self.ticket_id, self.round, str(self.level))


def pages_due(
    states: Iterable[PageState],
    rota: Rota,
    overrides: Sequence[Override],
    already_paged: Set[PageKey],
    policy: PagingPolicy,
    now: datetime,
) -> list[PageDecision]:
    """At most one new page per ticket per check: the step after the last page sent, once due."""
    on_call = who_is_on_call(rota, overrides, now)
    decisions = (_next_page(state, on_call, policy, now) for state in states)
    return [d for d in decisions if d is not None and d.key not in already_paged]


def _next_page(
    state: PageState, on_call: Mapping[Level, Shift], policy: PagingPolicy, now: datetime
) -> PageDecision | None:
    """An episode's first check pages at once; later ones wait ack_timeout after the last page."""
    if (episode := _episode(state, policy)) is None:
        return None
    started_at, reason = episode
    earlier = [page.round for page in state.pages_sent if page.at < started_at]
    base = max(earlier, default=0)  # a re-raise continues the round numbers: keys stay unique
    sent = sorted(
        (page for page in state.pages_sent if page.at >= started_at), key=lambda page: page.at
    )
    position = 0
    if sent:
        last = sent[-1]
        if now < last.at + policy.ack_timeout:
            return None
        position = _position(policy, last.round - base, last.level) + 1
        reason = PageReason.NOT_ACKNOWLEDGED
    for round_, level in policy.chain[position:]:
        if level == CHANNEL:
            return PageDecision(
                state.ticket_id, CHANNEL, base + round_, None, PageReason.CHAIN_EXHAUSTED
            )
        if (shift := on_call.get(level)) is not None:  # a level nobody holds is skipped
            return PageDecision(state.ticket_id, level, base + round_, shift.person, reason)
    return None


def _position(policy: PagingPolicy, round_: int, level: str) -> int:
    """Where a sent page sits in the chain; a level no longer configured ends its round."""
    steps = {(r, str(step)): index for index, (r, step) in enumerate(policy.chain)}
    return steps.get((round_, level), round_ * len(policy.levels) - 1)


def _episode(state: PageState, policy: PagingPolicy) -> tuple[datetime, PageReason] | None:
    """When the current paging episode began and why; None while the ticket needs no page."""
    if state.status in FINISHED or (state.plan, state.priority) not in policy.pageable:
        return None
    replies = [at for at in (state.first_public_reply_at, state.last_public_reply_at) if at]
    if not replies:
        started_at, reason = state.created_at, PageReason.NEW_TICKET
    elif raised_at := _re_raised_at(state, max(replies), policy):
        started_at, reason = raised_at, PageReason.CUSTOMER_MESSAGE
    else:
        return None  # the staff reply resolved the page
    if state.acknowledged_at is not None and state.acknowledged_at >= started_at:
        return None  # acknowledged: stop
    return started_at, reason


def _re_raised_at(state: PageState, replied_at: datetime, policy: PagingPolicy) -> datetime | None:
    """A customer message after the latest staff reply, on a ticket the policy re-pages for."""
    message_at = state.last_customer_message_at
    repages = policy.repage_on_customer_reply and (state.plan, state.priority) in policy.repageable
    return message_at if repages and message_at and message_at > replied_at else None


# -- PagerDuty Events API v2 ------------------------------------------------------------------


def ticket_dedup_key(ticket_id: int) -> str:
    """The stable PagerDuty dedup key of a ticket: one incident per ticket."""
    return f"supportdesk-ticket-{ticket_id}"


def pagerduty_event(
    action: PagerDutyAction,
    ticket: Ticket,
    routing_key: str,
    dedup_key: str | None = None,
    *,
    ticket_url: str | None = None,
    source: str = "mattermost-support-desk",
) -> dict[str, Any]:
    """The Events API v2 body; acknowledge and resolve carry only the keys, as the API expects."""
    if action not in ("trigger", "acknowledge", "resolve"):
        raise ValueError(f"unknown PagerDuty action {action!r}")
    if ticket.id is None:
        raise ValueError("a ticket must be stored before it can be sent to PagerDuty")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key or ticket_dedup_key(ticket.id),
    }
    if action == "trigger":
        event["payload"] = _pagerduty_payload(ticket, source)
        if ticket_url:
            event["links"] = [{"href": ticket_url, "text": f"Ticket #{ticket.id}"}]
    return event


def _pagerduty_payload(ticket: Ticket, source: str) -> dict[str, Any]:
    plan = ticket.plan.value.title() if ticket.plan else "No plan"
    summary = f"#{ticket.id} {plan} {ticket.priority.value.title()}: {ticket.form.subject}"
    details = {
        "ticket": ticket.id,
        "plan": ticket.plan.value if ticket.plan else None,
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "organisation": ticket.requester.organisation,
        "requester": ticket.requester.username,
        "category": ticket.form.category,
        "environment": ticket.form.environment,
        "mattermost_version": ticket.form.mattermost_version,
    }
    payload = {
        "summary": summary[:1024],  # the API's limit
        "source": source,
        "severity": SEVERITY[ticket.priority],
        "timestamp": ticket.created_at.isoformat(),
        "component": ticket.form.category,
        "group": ticket.requester.organisation,
        "class": ticket.form.form.value,
        "custom_details": {key: value for key, value in details.items() if value is not None},
    }
    return {key: value for key, value in payload.items() if value is not None}
