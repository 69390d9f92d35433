"""SLA outcomes: each first/next-reply wait of a ticket as a small stored fact, and the summary's
period figures from them. Pure: no I/O; `now` is a parameter.

Written when a ticket's clocks move (commands/sla_outcomes.py), read by the daily summary, so
its reply medians and attainment need no re-fold of every active ticket's log with the business
calendar (issue 10). Same cycles and measure as workflows/sla_stats.py, so the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from workflows.calendar import BusinessCalendar, to_utc
from workflows.model import Ticket, TicketEvent
from workflows.sla import Metric, SlaPolicy, State, cycles, measure
from workflows.summary import median

METRICS: Final = (Metric.FIRST_REPLY, Metric.NEXT_REPLY)  # what the summary reports on


class Verdict(StrEnum):
    MET = "met"  # ended within its target; decided when it ended
    BREACHED = "breached"  # ended over its target; decided at its deadline
    OPEN = "open"  # still waiting; breaches at `decided_at` (its deadline) unless it ends first
    NONE = "none"  # no target applies (or an open wait paused short of its deadline)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One reply wait of one ticket, as of the last change to its log."""

    ticket_id: int
    metric: Metric
    cycle_key: str
    verdict: Verdict
    started_at: datetime
    ended_at: datetime | None = None  # the reply or solve that ended the wait
    replied: bool = False  # ended by a public staff reply
    decided_at: datetime | None = None  # MET: ended_at; BREACHED and OPEN: the deadline

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.ticket_id, self.metric.value, self.cycle_key)


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """The summary's period metrics."""

    first_reply_median: timedelta | None = None
    next_reply_median: timedelta | None = None
    sla_met: int = 0
    sla_breached: int = 0


def outcomes(
    ticket: Ticket,
    events: Sequence[TicketEvent],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> list[Outcome]:
    """Every first/next-reply wait of one ticket measured as of `now`, oldest first.

    An open wait is stored with the deadline it will breach at if nothing happens; anything that
    could move that deadline (a reply, a status or priority change) is an event that rewrites it.
    """
    assert ticket.id is not None
    out = []
    for cycle in cycles(ticket, events, now):
        if cycle.metric not in METRICS:
            continue
        m = measure(cycle, ticket.plan, policy, calendar, now)
        if cycle.ended_at is None:  # paused short of its target: no deadline yet
            decided = m.deadline_at if m.target is not None else None
            verdict = Verdict.OPEN if decided is not None else Verdict.NONE
        elif m.state is State.MET:
            verdict, decided = Verdict.MET, cycle.ended_at
        elif m.state is State.BREACHED:
            verdict, decided = Verdict.BREACHED, m.deadline_at
        else:
            verdict, decided = Verdict.NONE, None
        out.append(Outcome(
            ticket_id=ticket.id, metric=cycle.metric, cycle_key=cycle.key, verdict=verdict,
            started_at=to_utc(cycle.started_at), ended_at=cycle.ended_at, replied=cycle.replied,
            decided_at=decided,
        ))  # fmt: skip
    return out


def changes(
    stored: Iterable[Outcome], current: Iterable[Outcome]
) -> tuple[list[Outcome], list[Outcome]]:
    """(to write, to delete): the current outcomes not stored as they are, and stored ones whose
    wait no longer exists (a wait whose clock never ran is dropped when it ends)."""
    before = {o.key: o for o in stored}
    now = {o.key: o for o in current}
    write = [o for k, o in now.items() if before.get(k) != o]
    delete = [o for k, o in before.items() if k not in now]
    return write, delete


def period_figures(found: Iterable[Outcome], start: datetime, end: datetime) -> PeriodFigures:
    """Median first/next reply (calendar time, waits answered in [start, end)) and how many waits
    were decided in [start, end): met, or breached (an open wait whose deadline fell in the period
    has breached by its end). Same rules as sla_stats.reply_times and sla_stats.attainment."""
    start, end = to_utc(start), to_utc(end)
    unique = {o.key: o for o in found}.values()
    waits: dict[Metric, list[timedelta]] = {m: [] for m in METRICS}
    met = breached = 0
    for o in unique:
        if o.replied and o.ended_at is not None and start <= o.ended_at < end:
            waits[o.metric].append(o.ended_at - o.started_at)
        if o.decided_at is None or not start <= o.decided_at < end:
            continue
        if o.verdict is Verdict.MET:
            met += 1
        elif o.verdict in (Verdict.BREACHED, Verdict.OPEN):
            breached += 1
    return PeriodFigures(
        first_reply_median=median(waits[Metric.FIRST_REPLY]),
        next_reply_median=median(waits[Metric.NEXT_REPLY]),
        sla_met=met,
        sla_breached=breached,
    )
