"""Reply-time and SLA-attainment figures for `/ticket stats`. Pure: lists in, numbers out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import floor
from typing import TypeVar

from workflows.calendar import BusinessCalendar, to_utc
from workflows.model import Ticket, TicketEvent
from workflows.sla import Metric, SlaPolicy, State, cycles, measure

_Value = TypeVar("_Value", float, timedelta)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One measured reply cycle of one ticket; durations are None while the cycle is open."""

    ticket_id: int | None
    metric: Metric
    cycle_key: str
    state: State  # MET or BREACHED once decided; NONE when the ticket's plan has no target
    started_at: datetime
    ended_at: datetime | None
    replied: bool  # ended by a public staff reply (a solve ends a cycle without one)
    wait: timedelta | None  # ended_at - started_at, calendar time, pauses included
    counted: timedelta  # time on the target's clock (calendar without one), pauses excluded
    decided_at: datetime | None  # when MET or BREACHED became final: the reply, or the deadline


@dataclass(frozen=True, slots=True)
class Attainment:
    """How many cycles met and breached their target."""

    met: int = 0
    breached: int = 0

    @property
    def rate(self) -> float | None:
        """Share met; None when nothing was decided."""
        total = self.met + self.breached
        return self.met / total if total else None


def samples(
    ticket: Ticket,
    events: Sequence[TicketEvent],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> list[MetricSample]:
    """Every reply cycle of one ticket, measured as of `now`, oldest first."""
    out = []
    for cycle in cycles(ticket, events, now):
        m = measure(cycle, ticket.plan, policy, calendar, now)
        decided = {State.MET: m.ended_at, State.BREACHED: m.deadline_at}
        out.append(MetricSample(
            ticket_id=ticket.id, metric=cycle.metric, cycle_key=cycle.key, state=m.state,
            started_at=cycle.started_at, ended_at=cycle.ended_at, replied=cycle.replied,
            wait=cycle.ended_at - cycle.started_at if cycle.ended_at else None,
            counted=m.used, decided_at=decided.get(m.state),
        ))  # fmt: skip
    return out


def reply_times(
    samples: Iterable[MetricSample],
    metric: Metric,
    since_at: datetime,
    until_at: datetime,
    *,
    business: bool = False,
) -> list[timedelta]:
    """Waits answered by a public reply within [since_at, until_at): calendar, or counted time."""
    since_at, until_at = to_utc(since_at), to_utc(until_at)
    return [
        s.counted if business else s.wait
        for s in samples
        if s.metric is metric and s.replied and s.wait is not None
        and s.ended_at is not None and since_at <= s.ended_at < until_at
    ]  # fmt: skip


def attainment(
    samples: Iterable[MetricSample], since_at: datetime, until_at: datetime
) -> dict[Metric, Attainment]:
    """Met and breached counts per metric, for cycles decided within [since_at, until_at)."""
    since_at, until_at = to_utc(since_at), to_utc(until_at)
    counts = {m: [0, 0] for m in Metric}
    for s in samples:
        if s.decided_at is not None and since_at <= s.decided_at < until_at:
            counts[s.metric][s.state is State.BREACHED] += 1
    return {m: Attainment(met, breached) for m, (met, breached) in counts.items()}


def percentile(values: Sequence[_Value], p: float) -> _Value | None:
    """The p-th percentile (0-100), interpolated between ranks as numpy does; None if empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, got {p}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = floor(rank)
    if low == len(ordered) - 1:
        return ordered[low]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (rank - low)
