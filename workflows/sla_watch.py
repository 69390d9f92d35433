"""When to look at a ticket again, and which SLA notices are still owed. Pure: no I/O.

A ticket's stored `next_deadline_at` is the earliest instant the scheduled check must act on:
a notice owed but not yet sent (its instant may already be past), or the next warning or
deadline. Sent notices are read from the ticket's own SLA_WARNED / SLA_BREACHED events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from workflows.model import EventKind, TicketEvent
from workflows.sla import Metric, SlaNotice, SlaReport, State, next_deadline, notices

NoticeKey = tuple[str, str, str]  # (metric, cycle key, state)

# Events that can start, stop, pause or re-target a reply clock; anything else leaves it alone.
CLOCK_EVENTS: Final = frozenset({
    EventKind.OPENED, EventKind.PUBLIC_REPLY, EventKind.CUSTOMER_MESSAGE,
    EventKind.STATUS_CHANGED, EventKind.REOPENED, EventKind.PRIORITY_CHANGED,
    EventKind.ESCALATED, EventKind.ESCALATION_STAGE,
})  # fmt: skip
NOTICE_EVENT: Final = {State.WARNING: EventKind.SLA_WARNED, State.BREACHED: EventKind.SLA_BREACHED}


def moves_clocks(events: Iterable[TicketEvent]) -> bool:
    """Whether any of these events can change a ticket's SLA clocks."""
    return any(e.kind in CLOCK_EVENTS for e in events)


def notice_key(n: SlaNotice) -> NoticeKey:
    return (n.metric.value, n.cycle_key, n.state.value)


def claim_key(n: SlaNotice) -> str:
    """The exactly-once key of a notice: ticket, metric, reply cycle and state."""
    return f"{n.ticket_id}:{n.metric.value}:{n.cycle_key}:{n.state.value}"


def outbox_key(n: SlaNotice) -> str:
    """The notice's outbox message key (unique: queueing it twice keeps one message)."""
    return f"t{n.ticket_id}:sla:{claim_key(n)}"


def notice_event(n: SlaNotice, at: datetime, key: str | None = None) -> TicketEvent:
    """The log entry recording that a notice was sent (queued with it; `key`: its outbox key;
    notices posted before the outbox carry a `post_id` instead)."""
    assert n.ticket_id is not None
    data = {"metric": n.metric.value, "cycle": n.cycle_key, "due_at": n.at.isoformat()}
    if key:
        data["key"] = key
    return TicketEvent(n.ticket_id, NOTICE_EVENT[n.state], at, to_value=n.metric.value, data=data)


def sent(events: Iterable[TicketEvent]) -> set[NoticeKey]:
    """Notices already posted for this ticket, from its log."""
    out = set()
    for e in events:
        for state, kind in NOTICE_EVENT.items():
            if e.kind is kind and isinstance(e.data, dict):
                out.add((str(e.data.get("metric")), str(e.data.get("cycle")), state.value))
    return out


def owed(report: SlaReport, already: set[NoticeKey]) -> list[SlaNotice]:
    """Warnings and breaches reached but not yet posted, earliest first."""
    reached = notices(report)
    if already:
        reached = tuple(n for n in reached if notice_key(n) not in already)
    return sorted(reached, key=_at)


def _at(n: SlaNotice) -> datetime:
    return n.at


def watch_at(report: SlaReport, already: set[NoticeKey]) -> datetime | None:
    """When the scheduled check must next look: an owed notice at once, else the next instant."""
    pending = [n.at for n in owed(report, already)]
    upcoming = next_deadline(report)
    return min([*pending, *([upcoming] if upcoming else [])], default=None)


def settle(report: SlaReport,
           events: Iterable[TicketEvent]) -> tuple[list[SlaNotice], datetime | None]:
    """What the scheduled check does for a due ticket: the notices it owes (to send and log now),
    and when to look again once they are logged."""
    owe = owed(report, sent(events))
    # = watch_at(report, sent | owed): once every owed notice is logged none is pending, so the
    # next instant is the report's next warning or deadline
    return owe, next_deadline(report)


def headline(report: SlaReport) -> tuple[Metric, State, datetime] | None:
    """What the card shows: an open breach first, else the nearest deadline, else a pause."""
    metrics: Sequence = report.metrics
    breached = [m for m in metrics if m.state is State.BREACHED and m.ended_at is None
                and m.deadline_at is not None]  # fmt: skip
    if breached:
        m = min(breached, key=lambda m: m.deadline_at)
        return m.metric, m.state, m.deadline_at
    running = [m for m in metrics if m.state in (State.RUNNING, State.WARNING)
               and m.deadline_at is not None]  # fmt: skip
    if running:
        m = min(running, key=lambda m: m.deadline_at)
        return m.metric, m.state, m.deadline_at
    paused = [m for m in metrics if m.state is State.PAUSED and m.target is not None]
    if paused:
        return paused[0].metric, State.PAUSED, report.evaluated_at
    return None
