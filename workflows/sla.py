"""Service-level targets and the reply clocks they run on. Pure: no I/O; `now` is a parameter.

A ticket's event log is folded into reply cycles (first reply, each next-reply wait, each gap
between public staff replies); a cycle is measured against the target of the ticket's plan and
priority. support-forms.md, "Metrics" and "Service levels", is the source of the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar

from workflows.calendar import BusinessCalendar, to_utc
from workflows.model import EventKind, Plan, Priority, Status, Ticket, TicketEvent


class Clock(StrEnum):
    CALENDAR = "calendar"  # 24x7: every hour counts
    BUSINESS = "business"  # only the requester's business hours count


class Metric(StrEnum):
    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    REGULAR_UPDATE = "regular_update"


class State(StrEnum):
    NONE = "none"  # no target applies, or no cycle has started
    RUNNING = "running"
    WARNING = "warning"  # `warn_at` share of the budget used, reply still due
    BREACHED = "breached"
    PAUSED = "paused"  # ticket pending (or solved, awaiting reopen): the clock is stopped
    MET = "met"


@dataclass(frozen=True, slots=True)
class Target:
    """A budget of time on `clock`; or, with next_business_day, the next business day's close."""

    budget: timedelta | None
    clock: Clock = Clock.BUSINESS
    next_business_day: bool = False

    def __post_init__(self) -> None:
        if self.next_business_day == (self.budget is not None):
            raise ValueError("a target has either a budget or next_business_day, not both")
        if self.budget is not None and self.budget <= timedelta(0):
            raise ValueError(f"a budget must be positive, got {self.budget}")


TargetKey = tuple[Plan, Priority, Metric]


def _cal(hours: float) -> Target:
    return Target(timedelta(hours=hours), Clock.CALENDAR)


def _biz(hours: float) -> Target:
    return Target(timedelta(hours=hours), Clock.BUSINESS)


_P, _E = Plan.PREMIUM, Plan.ENTERPRISE
_U, _H, _N, _L = Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW
_FIRST, _NEXT, _UPDATE = Metric.FIRST_REPLY, Metric.NEXT_REPLY, Metric.REGULAR_UPDATE

# support-forms.md "Service levels": Premium Urgent/High count 24x7, every other cell business
# hours. Regular updates: Premium Urgent daily (the default), no other cell.
DEFAULT_TARGETS: Final[Mapping[TargetKey, Target]] = MappingProxyType({
    (_P, _U, _FIRST): _cal(1), (_P, _U, _NEXT): _cal(2), (_P, _U, _UPDATE): _cal(24),
    (_P, _H, _FIRST): _cal(2), (_P, _H, _NEXT): _cal(4),
    (_P, _N, _FIRST): _biz(8), (_P, _N, _NEXT): _biz(24),
    (_P, _L, _FIRST): _biz(24), (_P, _L, _NEXT): _biz(24),
    (_E, _U, _FIRST): _biz(4), (_E, _U, _NEXT): _biz(4),
    (_E, _H, _FIRST): _biz(8), (_E, _H, _NEXT): _biz(8),
    (_E, _N, _FIRST): _biz(24), (_E, _N, _NEXT): _biz(24),
    (_E, _L, _FIRST): Target(None, next_business_day=True), (_E, _L, _NEXT): _biz(24),
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets per plan, priority and metric; a warning once `warn_at` of a budget is used."""

    targets: Mapping[TargetKey, Target] = field(default_factory=lambda: DEFAULT_TARGETS)
    warn_at: float = 0.75

    def __post_init__(self) -> None:
        if not 0 < self.warn_at <= 1:
            raise ValueError(f"warn_at must be in (0, 1], got {self.warn_at}")

    def target(self, plan: Plan | None, priority: Priority, metric: Metric) -> Target | None:
        """The cell's target; no plan, or a cell left out, means no target."""
        return None if plan is None else self.targets.get((plan, priority, metric))


DEFAULT_POLICY: Final = SlaPolicy()

# Escalation stages after which the ticket is back with support (SET declined, or the fix is out).
ESCALATION_ENDS: Final = frozenset({"declined", "released"})
FIRST_CYCLE_KEY: Final = "first"
_Member = TypeVar("_Member", Status, Priority)
_STOPPED = frozenset({Status.SOLVED, Status.CLOSED})
_WAITING_ON_US = frozenset({Status.NEW, Status.OPEN})


@dataclass(frozen=True, slots=True)
class Cycle:
    """One wait for a reply: when it started, the spans its clock ran, how and when it ended."""

    metric: Metric
    key: str
    started_at: datetime
    priority: Priority
    spans: tuple[tuple[datetime, datetime | None], ...]  # end None: still running
    ended_at: datetime | None = None
    replied: bool = False  # ended by a public staff reply (not by solving)


@dataclass(frozen=True, slots=True)
class MetricState:
    """Where one metric's latest cycle stands at `now`; instants are UTC."""

    metric: Metric
    state: State
    cycle_key: str | None = None
    started_at: datetime | None = None
    warn_at: datetime | None = None
    deadline_at: datetime | None = None
    ended_at: datetime | None = None  # the reply (or solve) that ended the cycle, met or late
    used: timedelta = timedelta(0)  # clock time counted so far, pauses excluded
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class SlaReport:
    """Every metric's state for one ticket, as of `evaluated_at`."""

    ticket_id: int | None
    evaluated_at: datetime
    metrics: tuple[MetricState, ...]

    def __getitem__(self, metric: Metric) -> MetricState:
        return next(m for m in self.metrics if m.metric is metric)


@dataclass(frozen=True, slots=True)
class SlaNotice:
    """A warning or breach to announce once per ticket, metric and cycle (the dedupe key)."""

    ticket_id: int | None
    metric: Metric
    cycle_key: str
    state: State  # WARNING or BREACHED
    at: datetime  # the instant the warning or breach happened


def evaluate(
    ticket: Ticket,
    events: Sequence[TicketEvent],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> SlaReport:
    """Each metric's latest cycle measured at `now`; events after `now` are not yet known."""
    latest = {c.metric: c for c in cycles(ticket, events, now)}
    plan = ticket.plan
    states = tuple(
        measure(latest[m], plan, policy, calendar, now) if m in latest else _NOT_STARTED[m]
        for m in _METRICS
    )
    return SlaReport(ticket.id, to_utc(now), states)


_METRICS: Final = tuple(Metric)
_NOT_STARTED: Final = {m: MetricState(m, State.NONE) for m in Metric}  # immutable: shared


def next_deadline(report: SlaReport) -> datetime | None:
    """The earliest warning or deadline instant after the report's time: when to look again."""
    instants = [
        at
        for m in report.metrics
        if m.state in (State.RUNNING, State.WARNING)
        for at in (m.warn_at, m.deadline_at)
        if at is not None and at > report.evaluated_at
    ]
    return min(instants, default=None)


def notices(report: SlaReport) -> tuple[SlaNotice, ...]:
    """Warnings and breaches of cycles still waiting for a reply; the caller drops those sent."""
    return tuple(
        SlaNotice(report.ticket_id, m.metric, m.cycle_key, m.state, at)
        for m in report.metrics
        if m.state in (State.WARNING, State.BREACHED) and m.ended_at is None
        and m.cycle_key is not None
        and (at := m.warn_at if m.state is State.WARNING else m.deadline_at) is not None
    )  # fmt: skip


def measure(
    cycle: Cycle,
    plan: Plan | None,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> MetricState:
    """A cycle against its target: a reply at the deadline meets it; still open there, breaches."""
    now = to_utc(now)
    target = policy.target(plan, cycle.priority, cycle.metric)
    clock = target.clock if target else Clock.CALENDAR
    used = sum((_span(clock, calendar, a, b or now) for a, b in cycle.spans), timedelta(0))
    if target is None:
        return MetricState(
            cycle.metric, State.NONE, cycle.key, cycle.started_at, ended_at=cycle.ended_at,
            used=used,
        )
    budget = target.budget or calendar.elapsed(
        cycle.started_at, calendar.next_business_day_end(cycle.started_at)
    )
    warn = budget * policy.warn_at
    return MetricState(  # built at once: the scheduled check measures every due ticket
        cycle.metric,
        _state(cycle, used, budget, warn),
        cycle.key,
        cycle.started_at,
        warn_at=_reached_at(cycle.spans, clock, calendar, warn),
        deadline_at=_reached_at(cycle.spans, clock, calendar, budget),
        ended_at=cycle.ended_at,
        used=used,
        target=target,
    )


def _state(cycle: Cycle, used: timedelta, budget: timedelta, warn: timedelta) -> State:
    """Ended: met unless over budget. Open: breached at budget, else paused, warning, running."""
    if cycle.ended_at is not None:
        return State.BREACHED if used > budget else State.MET
    if used >= budget:
        return State.BREACHED
    if not cycle.spans or cycle.spans[-1][1] is not None:
        return State.PAUSED
    return State.WARNING if used >= warn else State.RUNNING


def _reached_at(
    spans: Iterable[tuple[datetime, datetime | None]],
    clock: Clock,
    calendar: BusinessCalendar,
    amount: timedelta,
) -> datetime | None:
    """When the clock, running only in `spans`, reaches `amount`; None if it stops short."""
    for start_at, end_at in spans:
        if end_at is None:
            return _add(clock, calendar, start_at, amount)
        length = _span(clock, calendar, start_at, end_at)
        if timedelta(0) < length and amount <= length:
            return _add(clock, calendar, start_at, amount)
        amount -= length
    return None


def _span(
    clock: Clock, calendar: BusinessCalendar, start_at: datetime, end_at: datetime
) -> timedelta:
    """Time counted between two instants on `clock`."""
    if clock is Clock.BUSINESS:
        return calendar.elapsed(start_at, end_at)
    return max(end_at - start_at, timedelta(0))


def _add(
    clock: Clock, calendar: BusinessCalendar, start_at: datetime, amount: timedelta
) -> datetime:
    """The instant `amount` of `clock` time after `start_at`."""
    return calendar.add(start_at, amount) if clock is Clock.BUSINESS else start_at + amount


def cycles(ticket: Ticket, events: Sequence[TicketEvent], now: datetime) -> list[Cycle]:
    """Fold the event log (up to `now`, in time order) into reply cycles, oldest first."""
    now = to_utc(now)
    ordered = sorted(events, key=lambda e: to_utc(e.at))
    fold = _Fold(to_utc(ticket.created_at), _initial_priority(ticket, ordered))
    for event in ordered:
        if to_utc(event.at) > now:
            break
        fold.apply(event)
    return fold.result()


def _initial_priority(ticket: Ticket, events: Sequence[TicketEvent]) -> Priority:
    """The priority before the first recorded change, else the ticket's own."""
    for e in events:
        if e.kind is EventKind.PRIORITY_CHANGED and (before := _parse(Priority, e.from_value)):
            return before
    return ticket.priority


class _Fold:
    """Private accumulator for `cycles`: the ticket's status and the cycles still open."""

    def __init__(self, created_at: datetime, priority: Priority) -> None:
        self.status, self.priority = Status.NEW, priority
        self.escalated = self.replied = False
        self.done: list[Cycle] = []
        self.open: dict[Metric, Cycle] = {}
        self._start(Metric.FIRST_REPLY, FIRST_CYCLE_KEY, created_at)

    def apply(self, e: TicketEvent) -> None:
        """Advance by one event; kinds the clocks do not care about are ignored."""
        at = to_utc(e.at)
        if e.kind is EventKind.PUBLIC_REPLY:
            self._on_public_reply(at)
        elif e.kind is EventKind.CUSTOMER_MESSAGE:
            self._on_customer_message(at)
        elif e.kind is EventKind.STATUS_CHANGED and (status := _parse(Status, e.to_value)):
            self._on_status(status, at)
        elif e.kind is EventKind.REOPENED:
            self._on_status(_parse(Status, e.to_value) or Status.OPEN, at)
        elif e.kind is EventKind.PRIORITY_CHANGED and (priority := _parse(Priority, e.to_value)):
            self.priority = priority
            self.open = {m: replace(c, priority=self.priority) for m, c in self.open.items()}
        elif e.kind is EventKind.ESCALATED:
            self.escalated = True
        elif e.kind is EventKind.ESCALATION_STAGE and e.to_value in ESCALATION_ENDS:
            self.escalated = False
        self._sync(at)

    def result(self) -> list[Cycle]:
        return sorted([*self.done, *self.open.values()], key=lambda c: c.started_at)

    def _on_public_reply(self, at: datetime) -> None:
        """A public staff reply answers every wait and starts the next regular-update gap."""
        self.replied = True
        for metric in (Metric.FIRST_REPLY, Metric.NEXT_REPLY, Metric.REGULAR_UPDATE):
            self._end(metric, at, replied=True)
        if self.status not in _STOPPED:
            self._start(Metric.REGULAR_UPDATE, _key(at), at)

    def _on_customer_message(self, at: datetime) -> None:
        """After the first reply, an unanswered customer message starts a next-reply wait."""
        waiting = Metric.FIRST_REPLY in self.open or Metric.NEXT_REPLY in self.open
        if not waiting and self.status is not Status.CLOSED:
            self._start(Metric.NEXT_REPLY, _key(at), at)

    def _on_status(self, status: Status, at: datetime) -> None:
        """Solved or Closed ends every wait; leaving Solved restarts the regular-update gap."""
        was_stopped, self.status = self.status in _STOPPED, status
        if status in _STOPPED:
            for metric in list(self.open):
                self._end(metric, at)
        elif was_stopped and self.replied and Metric.REGULAR_UPDATE not in self.open:
            self._start(Metric.REGULAR_UPDATE, _key(at), at)

    def _runs(self, metric: Metric) -> bool:
        """Whether a metric's clock runs in the current status (Pending pauses all but first)."""
        if metric is Metric.FIRST_REPLY:
            return self.status not in _STOPPED
        if metric is Metric.REGULAR_UPDATE and self.escalated and self.status is Status.PENDING:
            return True  # waiting on SET, not on the customer: updates stay due
        return self.status in _WAITING_ON_US

    def _sync(self, at: datetime) -> None:
        """Open or close each open cycle's running span to match the current status."""
        for metric, cycle in list(self.open.items()):
            running = bool(cycle.spans) and cycle.spans[-1][1] is None
            if self._runs(metric) and not running:
                self.open[metric] = _respan(cycle, (*cycle.spans, (at, None)))
            elif running and not self._runs(metric):
                self.open[metric] = _close(cycle, at)

    def _start(self, metric: Metric, key: str, at: datetime) -> None:
        self.open[metric] = Cycle(metric, key, at, self.priority, spans=())
        self._sync(at)

    def _end(self, metric: Metric, at: datetime, *, replied: bool = False) -> None:
        """Close a cycle; one whose clock never ran (asked on Solved, then Closed) is dropped."""
        cycle = self.open.pop(metric, None)
        if cycle is not None and cycle.spans:
            self.done.append(replace(_close(cycle, at), ended_at=at, replied=replied))


def _close(cycle: Cycle, at: datetime) -> Cycle:
    """Stop the running span, if any, at `at`."""
    if not cycle.spans or cycle.spans[-1][1] is not None:
        return cycle
    return _respan(cycle, (*cycle.spans[:-1], (cycle.spans[-1][0], at)))


def _respan(cycle: Cycle, spans: tuple[tuple[datetime, datetime | None], ...]) -> Cycle:
    """`replace(cycle, spans=spans)`, without its per-call introspection (a hot path)."""
    return Cycle(cycle.metric, cycle.key, cycle.started_at, cycle.priority, spans,
                 cycle.ended_at, cycle.replied)


def _parse(kind: type[_Member], value: str | None) -> _Member | None:
    """The enum member named by an event's string value; None for anything else."""
    try:
        return kind(value)
    except ValueError:
        return None


def _key(at: datetime) -> str:
    """A cycle key that is stable whether or not the starting event has been stored yet."""
    return at.isoformat()
