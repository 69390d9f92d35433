"""The summary's query layer: read the period's activity and the backlog, fill a SummaryData.

Cost grows with the period's activity only, not with history or the backlog's size: every query
is a grouped count of the period's events, a read of counts kept by triggers, a LIMIT walk of an
index, or a read of the SLA outcomes decided in the period (storage/summary.py, sla_outcomes.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands import replies as desk_replies
from commands.deps import Deps
from commands.ports import GatewayError, UnitOfWork
from workflows import sla_outcomes, sla_watch
from workflows.calendar import BusinessCalendar
from workflows.model import EventKind, Status, Ticket
from workflows.rota import Rota
from workflows.sla import DEFAULT_POLICY
from workflows.summary import (
    FINAL_STAGES,
    DayPoint,
    Listed,
    PageStats,
    Schedule,
    SummaryData,
    TicketLine,
    backlog_delta,
    backlog_series,
    day_bounds,
    median,
)

STAGE_LOOKBACK = timedelta(days=180)  # an escalation untouched this long is not shown by stage
PAGE_LOOKBACK = timedelta(days=1)  # an acknowledgement is paired with a page at most this old
BREACH_LOOKBACK = timedelta(days=30)  # a breach older than this and still unanswered is not listed
K = EventKind
TOUCHING = {K.PUBLIC_REPLY, K.STATUS_CHANGED, K.SLA_BREACHED}  # events that end or breach a wait


@dataclass(frozen=True, slots=True)
class SummaryPolicy:
    """[summary] settings plus what the post needs to link ticket cards (deps.summary)."""

    schedule: Schedule = field(default_factory=Schedule)
    handover_digests: bool = False
    late_grace: timedelta = timedelta(hours=6)
    pending_days: int = 3
    top_n: int = 5
    site_url: str = ""  # Mattermost's site URL, for permalinks
    team_name: str = ""
    rota: Rota | None = None  # the on-call rota (issue 5), for hand-over digests

    @classmethod
    def from_settings(cls, s: Any) -> SummaryPolicy:
        """From bot.config.Settings: [summary], the Mattermost site URL and team, the rota."""
        c = s.summary
        rota = (
            s.oncall.rota()
            if getattr(s, "oncall", None) is not None and s.oncall.regions
            else None
        )
        return cls(
            schedule=Schedule.parse(c.at, c.timezone, c.days),
            handover_digests=c.handover_digests,
            late_grace=c.late_grace,
            pending_days=c.pending_days,
            top_n=c.top_n,
            site_url=s.mattermost.url.rstrip("/"),
            team_name=s.mattermost.team,
            rota=rota,
        )

    @property
    def tz(self) -> ZoneInfo:
        return self.schedule.tz

    def permalink(self, row: TicketLine) -> str:
        label = f"#{row.ticket_id}"
        if not row.card_post_id or not self.site_url:
            return label
        return f"[{label}]({self.site_url}/{self.team_name}/pl/{row.card_post_id})"


def policy_of(deps: Deps) -> SummaryPolicy:
    return (
        deps.summary
        if isinstance(deps.summary, SummaryPolicy)
        else SummaryPolicy(site_url="", team_name=deps.desk.team_name)
    )


async def build(
    deps: Deps,
    start: datetime,
    end: datetime,
    *,
    title: str = "Daily summary",
    late: bool = False,
    chart: bool = True,
    metrics: bool = True,
) -> SummaryData:
    """Everything the post shows, for the period [start, end) and the state now."""
    policy = policy_of(deps)
    now = deps.clock()
    n = policy.top_n
    async with deps.uow() as uow:
        q = uow.summary
        opened = await q.opened_groups(start, end)
        moves = await q.event_counts(start, end, {K.STATUS_CHANGED, K.REOPENED, K.SLA_BREACHED})
        backlog = await q.backlog()
        unassigned = await q.unassigned(n)
        if deps.sla is not None:  # SLA wired (issue 4): breaches logged and not yet answered
            count, found = await q.breached_open(now - BREACH_LOOKBACK, n)
            breached = Listed(count, tuple(_line(t, at) for t, at in found))
        else:  # hook: without the SLA check, the stored deadline having passed is the signal
            breached = _listed(await q.overdue(now, n), lambda t: t.next_deadline_at)
        next_due = await _deadlines(deps, uow, await q.next_due(now, n), now)
        pending = await q.pending_since(now - timedelta(days=policy.pending_days), n)
        side = await q.events_of(start, end, {K.CSAT_RATED, K.PAGED, K.PAGE_ACKNOWLEDGED})
        stages = await q.latest_stages(now - STAGE_LOOKBACK, {K.ESCALATED, K.ESCALATION_STAGE})
        figures = await _period_metrics(deps, uow, start, end) if metrics else {}
        pages = await _pages(deps, uow, start, end, side)
        days = await _days(uow, now, policy.tz, sum(backlog.values())) if chart else ()
        csat_good, csat_bad, bad = _csat(side)
        bad_tickets = await q.tickets(t for t, _ in bad[:n])
    data = SummaryData(
        title=title,
        start_at=start,
        end_at=end,
        now=now,
        tz=policy.tz,
        late=late,
        opened_by_form=_sum(opened, 0),
        opened_by_priority=_sum(opened, 1),
        opened_by_plan=_sum(opened, 2),
        opened_by_category=_sum(opened, 3),
        solved=_moved(moves, K.STATUS_CHANGED, Status.SOLVED),
        closed=_moved(moves, K.STATUS_CHANGED, Status.CLOSED),
        reopened=sum(c for k, _, _, c in moves if k == K.REOPENED),
        breaches_in_period=sum(c for k, _, _, c in moves if k == K.SLA_BREACHED),
        backlog=backlog,
        unassigned=_listed(unassigned, lambda t: t.created_at),
        breached=breached,
        next_to_breach=Listed(len(next_due), tuple(_line(t, d) for t, d in next_due)),
        pending_days=policy.pending_days,
        pending=_listed(pending, lambda t: t.updated_at),
        escalations=None
        if deps.escalation is None and not stages
        else dict(Counter(v for v in stages.values() if v not in FINAL_STAGES)),
        pages=pages,
        csat_good=csat_good,
        csat_bad=csat_bad,
        bad_ratings=Listed(
            len(bad),
            tuple(
                _line(bad_tickets[t], None, note=comment)
                for t, comment in bad[:n]
                if t in bad_tickets
            ),
        ),
        days=tuple(days),
        **figures,
    )
    return await _with_names(deps, data)


async def _deadlines(
    deps: Deps, uow: UnitOfWork, found: list[Ticket], now: datetime
) -> list[tuple[Ticket, datetime | None]]:
    """The real deadline of each (top N) ticket when the SLA feature can tell it; the stored
    watch instant (a warning or a deadline) otherwise."""
    report = getattr(deps.sla, "report", None)
    if report is None or not found:
        return [(t, t.next_deadline_at) for t in found]
    history = await uow.summary.events_for([t.id for t in found if t.id is not None], now)
    out = []
    for t in found:
        shown = sla_watch.headline(report(t, history.get(t.id or 0, []), None, now))
        out.append((t, shown[2] if shown and shown[2] > now else t.next_deadline_at))
    return out


def _sum(groups: list[tuple[Any, ...]], index: int) -> dict[str, int]:
    out: Counter[str] = Counter()
    for row in groups:
        out[row[index] or "none"] += row[-1]
    return dict(out)


def _moved(moves: list[tuple[str, str | None, str | None, int]], kind: str, to: Status) -> int:
    return sum(c for k, _, t, c in moves if k == kind and t == to.value)


def _line(ticket: Ticket, at: datetime | None, note: str = "") -> TicketLine:
    assert ticket.id is not None
    return TicketLine(
        ticket.id,
        ticket.form.subject,
        ticket.priority,
        ticket.status,
        assignee=ticket.assignee_id,
        card_post_id=ticket.card_post_id,
        at=at,
        note=note,
    )


def _listed(found: tuple[int, list[Ticket]], at: Any) -> Listed:
    total, tickets = found
    return Listed(total, tuple(_line(t, at(t)) for t in tickets))


def _csat(events: list[Any]) -> tuple[int, int, list[tuple[int, str]]]:
    """The last rating per ticket in the period: good, bad, and (ticket, comment) of the bad."""
    last = {e.ticket_id: e for e in events if e.kind is K.CSAT_RATED}
    good = sum(1 for e in last.values() if e.to_value == "good")
    bad = [
        (t, str(e.data.get("text") or "")) for t, e in sorted(last.items()) if e.to_value == "bad"
    ]
    return good, len(bad), bad


async def _pages(
    deps: Deps, uow: UnitOfWork, start: datetime, end: datetime, side: list[Any]
) -> PageStats | None:
    fired = [e for e in side if e.kind is K.PAGED]
    acks = [e for e in side if e.kind is K.PAGE_ACKNOWLEDGED]
    if deps.oncall is None and not fired and not acks:
        return None  # on-call paging (issue 5) not wired: the section shows "—"
    earlier = await uow.summary.events_of(start - PAGE_LOOKBACK, start, {K.PAGED})
    pages = sorted(earlier + fired, key=lambda e: e.at)
    waits = []
    for ack in acks:
        paged = [p.at for p in pages if p.ticket_id == ack.ticket_id and p.at <= ack.at]
        if paged:
            waits.append(ack.at - paged[-1])
    return PageStats(len(fired), len(acks), median(waits))


async def _period_metrics(
    deps: Deps, uow: UnitOfWork, start: datetime, end: datetime
) -> dict[str, Any]:
    """Median first/next reply and SLA attainment of the reply waits decided in the period.

    Reads the stored outcomes answered or decided in the period (kept by the ticket funnel,
    commands/sla_outcomes.py); tickets the funnel never measured (imported, older than the
    table, or the SLA feature not wired) and active in the period are measured from their log."""
    stored = await uow.sla_outcomes.in_period(start, end)
    unmeasured = await uow.sla_outcomes.unmeasured(start, end, TOUCHING)
    skip = set(unmeasured)
    found = [o for o in stored if o.ticket_id not in skip]
    found += await _measure_logs(deps, uow, unmeasured, end)
    if not found:
        return {}
    f = sla_outcomes.period_figures(found, start, end)
    return {
        "first_reply_median": f.first_reply_median,
        "next_reply_median": f.next_reply_median,
        "sla_met": f.sla_met,
        "sla_breached": f.sla_breached,
    }


async def _measure_logs(
    deps: Deps, uow: UnitOfWork, ids: list[int], end: datetime
) -> list[sla_outcomes.Outcome]:
    """The waits of these tickets measured from their logs as of `end`, with the SLA policy and
    each requester's stored zone (else the desk's calendar), or the defaults without SLA."""
    if not ids:
        return []
    tickets = await uow.summary.tickets(ids)
    history = await uow.summary.events_for(ids, end)
    zones = await uow.sla.zones(ids) if deps.sla is not None else {}
    policy = getattr(deps.sla, "policy", None) or DEFAULT_POLICY
    calendar = getattr(deps.sla, "calendar", None) or BusinessCalendar()
    calendar_for = getattr(deps.sla, "calendar_for", lambda zone: calendar)
    return [
        o
        for t in tickets.values()
        for o in sla_outcomes.outcomes(
            t, history.get(t.id or 0, []), policy, calendar_for(zones.get(t.id or 0)), end
        )
    ]


async def _days(uow: UnitOfWork, now: datetime, tz: ZoneInfo, backlog_now: int) -> list[DayPoint]:
    """Opened, solved, breaches and the end-of-day backlog of the last 14 local days: one grouped
    read of the hourly event counts (plus the log for a day's partial hours)."""
    bounds = day_bounds(now, tz)
    per_day = await uow.summary.event_counts_per_day(
        [(start, end) for _, start, end in bounds], {K.OPENED, K.STATUS_CHANGED, K.SLA_BREACHED}
    )
    counts = [(day, rows) for (day, _, _), rows in zip(bounds, per_day, strict=True)]
    deltas = [sum(backlog_delta(k, f, t) * c for k, f, t, c in rows) for _, rows in counts]
    backlogs = backlog_series(backlog_now, deltas)
    return [
        DayPoint(
            day,
            opened=sum(c for k, _, _, c in rows if k == K.OPENED),
            solved=sum(
                c for k, _, t, c in rows if k == K.STATUS_CHANGED and t == Status.SOLVED.value
            ),
            backlog=b,
            breaches=sum(c for k, _, _, c in rows if k == K.SLA_BREACHED),
        )
        for (day, rows), b in zip(counts, backlogs, strict=True)
    ]


async def _with_names(deps: Deps, data: SummaryData) -> SummaryData:
    """Swap assignee ids for display names (one users call; never mentions)."""
    lists = ("unassigned", "breached", "next_to_breach", "pending", "bad_ratings")
    ids = sorted({r.assignee for name in lists for r in getattr(data, name).rows if r.assignee})
    names: dict[str, str] = {}
    if ids:
        try:
            names = {
                u["id"]: desk_replies.person(u) for u in await deps.gateway.get_users_by_ids(ids)
            }
        except GatewayError:
            names = {}

    def named(listed: Listed) -> Listed:
        return Listed(
            listed.total,
            tuple(
                replace(r, assignee=names.get(r.assignee, "someone") if r.assignee else None)
                for r in listed.rows
            ),
        )

    return replace(data, **{name: named(getattr(data, name)) for name in lists})
