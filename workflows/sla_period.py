"""Figures for one reporting period (`/ticket stats`, the daily summary). Pure: data in, numbers out.

Reply times are calendar waits (pauses included, as Zendesk reports them); attainment counts
cycles decided in the period (met at the reply, breached at the deadline). Groups use each
ticket's plan, current priority and current assignee.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final

from workflows.calendar import BusinessCalendar, to_utc
from workflows.model import PRIORITY_RANK, EventKind, Plan, Priority, Status, Ticket, TicketEvent
from workflows.sla import Metric, SlaPolicy
from workflows.sla_stats import Attainment, MetricSample, attainment, percentile, reply_times, samples
from workflows.text import parse_duration

DEFAULT_PERIOD: Final = "7d"
LOOKBACK: Final = timedelta(days=14)  # cycles decided in a period started at most this before it
_AMOUNT = re.compile(r"^\d+\s*[a-z]+$")


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, with how the user asked for it."""

    start: datetime
    end: datetime
    label: str


def parse_period(text: str, now: datetime) -> Period:
    """ "7d", "24h", "2w" (the last ...), "today", "week" or "month" (so far, UTC); else ValueError."""
    now = to_utc(now)
    word = (text or DEFAULT_PERIOD).strip().lower()
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    if word == "today":
        return Period(midnight, now, "today")
    if word == "week":
        return Period(midnight - timedelta(days=now.weekday()), now, "this week")
    if word == "month":
        return Period(midnight.replace(day=1), now, "this month")
    if not _AMOUNT.match(word):
        raise ValueError(word)
    return Period(now - parse_duration(word), now, f"last {word.replace(' ', '')}")


@dataclass(frozen=True, slots=True)
class ReplyFigures:
    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """One row of a breakdown: a plan x priority cell or an agent."""

    key: str
    tickets: int
    solved: int
    first_reply: ReplyFigures
    attainment: Mapping[Metric, Attainment]

    @property
    def overall(self) -> Attainment:
        return Attainment(sum(a.met for a in self.attainment.values()),
                          sum(a.breached for a in self.attainment.values()))


@dataclass(frozen=True, slots=True)
class PeriodStats:
    period: Period
    opened: int
    solved: int
    first_reply: ReplyFigures
    next_reply: ReplyFigures
    attainment: Mapping[Metric, Attainment]
    by_cell: Sequence[Group] = ()
    by_agent: Sequence[Group] = ()
    csat_good: int = 0
    csat_bad: int = 0

    @property
    def csat(self) -> float | None:
        total = self.csat_good + self.csat_bad
        return self.csat_good / total if total else None


def figures(values: Sequence[timedelta]) -> ReplyFigures:
    return ReplyFigures(len(values), percentile(values, 50), percentile(values, 90))


def period_stats(
    tickets: Iterable[Ticket],
    logs: Mapping[int, Sequence[TicketEvent]],
    policy: SlaPolicy,
    calendar_of: Callable[[Ticket], BusinessCalendar],
    period: Period,
) -> PeriodStats:
    """Every figure of the report for the tickets given (those with activity near the period)."""
    start, end = period.start, period.end
    found = [t for t in tickets if t.id is not None]
    per_ticket = {t.id: samples(t, logs.get(t.id, ()), policy, calendar_of(t), end) for t in found}
    solved = {t.id for t in found if _solved_in(logs.get(t.id, ()), start, end)}
    everything = [s for ss in per_ticket.values() for s in ss]

    def group(key: str, members: list[Ticket]) -> Group:
        ss = [s for t in members for s in per_ticket[t.id]]
        return Group(key, len(members), sum(t.id in solved for t in members),
                     figures(reply_times(ss, Metric.FIRST_REPLY, start, end)),
                     attainment(ss, start, end))

    def active(t: Ticket) -> bool:
        return t.id in solved or _decided_in(per_ticket[t.id], start, end) or \
            start <= to_utc(t.created_at) < end

    cells: dict[tuple[int, int], list[Ticket]] = {}
    agents: dict[str, list[Ticket]] = {}
    for t in filter(active, found):
        cells.setdefault((_plan_rank(t.plan), PRIORITY_RANK[t.priority]), []).append(t)
        agents.setdefault(t.assignee_id or "", []).append(t)
    good, bad = _csat(logs, start, end)
    return PeriodStats(
        period=period,
        opened=sum(start <= to_utc(t.created_at) < end for t in found),
        solved=len(solved),
        first_reply=figures(reply_times(everything, Metric.FIRST_REPLY, start, end)),
        next_reply=figures(reply_times(everything, Metric.NEXT_REPLY, start, end)),
        attainment=attainment(everything, start, end),
        by_cell=[group(cell_label(m[0].plan, m[0].priority), m) for _, m in sorted(cells.items())],
        by_agent=[group(a, m) for a, m in sorted(agents.items(), key=lambda kv: (kv[0] == "", kv[0]))],
        csat_good=good, csat_bad=bad,
    )


def cell_label(plan: Plan | None, priority: Priority) -> str:
    name = {Plan.PREMIUM: "Premium", Plan.ENTERPRISE: "Enterprise"}.get(plan, "No plan")  # type: ignore[arg-type]
    return f"{name} {priority.value.capitalize()}"


def _plan_rank(plan: Plan | None) -> int:
    return {Plan.PREMIUM: 0, Plan.ENTERPRISE: 1}.get(plan, 2)  # type: ignore[arg-type]


def _in(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= to_utc(at) < end


def _solved_in(events: Iterable[TicketEvent], start: datetime, end: datetime) -> bool:
    return any(e.kind is EventKind.STATUS_CHANGED and e.to_value == Status.SOLVED.value
               and _in(e.at, start, end) for e in events)


def _decided_in(ss: Iterable[MetricSample], start: datetime, end: datetime) -> bool:
    return any(s.decided_at is not None and _in(s.decided_at, start, end) for s in ss)


def _csat(logs: Mapping[int, Sequence[TicketEvent]], start: datetime, end: datetime) -> tuple[int, int]:
    """Good and Bad among each ticket's latest rating given in the period."""
    latest: dict[int, str] = {}
    for ticket_id, events in logs.items():
        for e in sorted(events, key=lambda e: (to_utc(e.at), e.id or 0)):
            if e.kind is EventKind.CSAT_RATED and _in(e.at, start, end) and e.to_value:
                latest[ticket_id] = e.to_value
    values = list(latest.values())
    return values.count("good"), values.count("bad")
