"""Every sentence the SLA feature shows: notices, the card line, the /ticket stats report."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from workflows import text
from workflows.model import Plan, Priority, Ticket
from workflows.sla import Metric, SlaNotice, State, Target
from workflows.sla_settings import budget_text
from workflows.sla_period import PeriodStats
from workflows.sla_stats import Attainment

METRIC_LABEL = {
    Metric.FIRST_REPLY: "First reply",
    Metric.NEXT_REPLY: "Next reply",
    Metric.REGULAR_UPDATE: "Regular update",
}
PLAN_SHORT = {Plan.PREMIUM: "Premium", Plan.ENTERPRISE: "Enterprise", None: "No plan"}
UNASSIGNED = "unassigned"


def _clock(at: datetime) -> str:
    return at.strftime("%a %H:%M UTC")


def _span(delta: timedelta) -> str:
    """ "42m", "2h 5m"; under a minute: "<1m"."""
    if delta < timedelta(minutes=1):
        return "<1m"
    return text.format_duration(timedelta(minutes=delta // timedelta(minutes=1)))


def _who(ticket: Ticket, target: Target | None) -> str:
    return _cell(ticket.plan, ticket.priority, target)


@functools.cache  # a few dozen cells at most: the scheduled check asks once per notice
def _cell(plan: Plan | None, priority: Priority, target: Target | None) -> str:
    cell = f"{PLAN_SHORT[plan]} {priority.value.capitalize()}"
    return f"{cell}, target {budget_text(target)}" if target else cell


def warning(ticket: Ticket, notice: SlaNotice, deadline_at: datetime | None,
            target: Target | None, mention: str, now: datetime) -> str:
    """Posted in the staff thread once `warn_at` of a target's budget is used."""
    due = (f"due in {_span(deadline_at - now)} (by {_clock(deadline_at)})"
           if deadline_at and deadline_at > now else "due now")
    return (f":warning: {mention} **{METRIC_LABEL[notice.metric]}** on #{ticket.id} is {due} "
            f"— {_who(ticket, target)}.")


def mention_for(ticket: Ticket, usernames: dict[str, str], oncall_ids: list[str]) -> str:
    """Who a notice calls: the assignee; unassigned: whoever is on duty, else @here."""
    ids = [ticket.assignee_id] if ticket.assignee_id else oncall_ids
    names = [f"@{usernames[i]}" for i in ids if usernames.get(i)]
    if names:
        return " ".join(names) + ("" if ticket.assignee_id else f" ({UNASSIGNED})")
    if ticket.assignee_id:  # the assignee's account could not be read: no mention
        return "The assignee:"
    return f"@here ({UNASSIGNED})"


def breach(ticket: Ticket, notice: SlaNotice, target: Target | None, mention: str,
           now: datetime) -> str:
    """Posted in the staff thread when a target passes without a reply."""
    late = now - notice.at
    ago = f" ({_span(late)} ago)" if late >= timedelta(minutes=1) else ""
    return (f":rotating_light: {mention} **{METRIC_LABEL[notice.metric]}** target on "
            f"#{ticket.id} was breached at {_clock(notice.at)}{ago} — {_who(ticket, target)}.")


def card_line(metric: Metric, state: State, at: datetime, now: datetime) -> str:
    """The card's SLA field: "First reply due in 42m", "breached 2h ago", or paused."""
    label = METRIC_LABEL[metric]
    if state is State.BREACHED:
        return f"{label} breached {_span(now - at)} ago" if now - at >= timedelta(minutes=1) \
            else f"{label} breached just now"
    if state is State.PAUSED:
        return f"{label} paused (waiting on the customer)"
    return f"{label} due in {_span(at - now)}" + (" ⚠" if state is State.WARNING else "")


# --- /ticket stats ----------------------------------------------------------------------------
MAX_POST = 16383  # Mattermost's post limit, in runes
MAX_ROWS = 30

STATS_USAGE = ("Usage: `/ticket stats [period]` — a period like `7d`, `24h`, `2w`, `today`, "
               "`week` or `month` (default `7d`).")
STATS_STAFF_ONLY = "Only support staff can see the desk's statistics."


def _dur(value: timedelta | None) -> str:
    return "—" if value is None else _span(value)


def _rate(a: Attainment) -> str:
    rate = a.rate
    return "—" if rate is None else f"{a.met}/{a.met + a.breached} ({rate:.0%})"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"_…and {len(rows) - MAX_ROWS} more rows_")
    return lines


def stats_report(stats: PeriodStats, agent_names: dict[str, str]) -> str:
    """The `/ticket stats` answer: a headline and three short tables."""
    p = stats.period
    csat = "—" if stats.csat is None else (
        f"{stats.csat:.0%} ({stats.csat_good} good, {stats.csat_bad} bad)")
    lines = [
        f"**Support stats** · {p.label} ({p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} UTC)",
        f"Opened: **{stats.opened}** · Solved: **{stats.solved}** · CSAT: **{csat}**",
        "",
        *_table(["Reply time", "Replies", "Median", "90th percentile"], [
            [METRIC_LABEL[Metric.FIRST_REPLY], str(stats.first_reply.count),
             _dur(stats.first_reply.median), _dur(stats.first_reply.p90)],
            [METRIC_LABEL[Metric.NEXT_REPLY], str(stats.next_reply.count),
             _dur(stats.next_reply.median), _dur(stats.next_reply.p90)],
        ]),
        "",
        *_table(["SLA met", *(METRIC_LABEL[m] for m in Metric)],
                [["**All**", *(_rate(stats.attainment[m]) for m in Metric)]]
                + [[g.key, *(_rate(g.attainment[m]) for m in Metric)] for g in stats.by_cell]),
        "",
        *_table(["Agent", "Tickets", "Solved", "Median first reply", "SLA met"], [
            [agent_names.get(g.key, g.key) if g.key else "_unassigned_", str(g.tickets),
             str(g.solved), _dur(g.first_reply.median), _rate(g.overall)]
            for g in stats.by_agent
        ]),
    ]
    out = "\n".join(lines)
    return out if len(out) <= MAX_POST else out[: MAX_POST - 2] + "\n…"
