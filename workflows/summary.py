"""The daily summary: its schedule's slot arithmetic, its figures, and its Markdown. Pure: no I/O.

The query layer (commands/summary/build.py) fills a `SummaryData`; `render_fitted` turns it into
one Mattermost post that is always under the post length limit, whatever the volume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from workflows import text
from workflows.model import Priority, Status

POST_LIMIT: Final = 16383  # Mattermost's post length limit, in runes
SAFE_LIMIT: Final = 16000  # what we aim below, leaving room for a late marker or a header
ON_TIME: Final = timedelta(minutes=5)  # a post this close to its slot is not "late"
LOOKBACK_DAYS: Final = 8  # a weekly schedule has a slot within the last 8 local days
CHART_DAYS: Final = 14
BACKLOG_STATUSES: Final = (Status.NEW, Status.OPEN, Status.PENDING)
DONE_STATUSES: Final = frozenset({Status.SOLVED.value, Status.CLOSED.value})
ACTIVE_STATUSES: Final = frozenset(s.value for s in BACKLOG_STATUSES)
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# -- the schedule -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """Posted at local wall time `at` in `tz` on `days` (Monday = 0)."""

    at: time = time(9)
    tz: ZoneInfo = ZoneInfo("UTC")
    days: frozenset[int] = frozenset(range(5))

    @classmethod
    def parse(cls, at: str, tz: str, days: Iterable[str]) -> Schedule:
        return cls(
            time.fromisoformat(at), ZoneInfo(tz), frozenset(WEEKDAYS.index(d) for d in days)
        )

    def cron(self) -> dict[str, Any]:
        """APScheduler CronTrigger kwargs for this schedule."""
        return {
            "day_of_week": ",".join(WEEKDAYS[d] for d in sorted(self.days)),
            "hour": self.at.hour,
            "minute": self.at.minute,
            "timezone": str(self.tz),
        }


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled post: its instant (UTC), and whether it is being posted late."""

    at: datetime
    late: bool = False

    @property
    def key(self) -> str:
        return slot_key(self.at)


def slot_key(at: datetime) -> str:
    """The exactly-once claim key of a slot, e.g. "summary:2026-11-30T09:00+00:00"."""
    return "summary:" + at.astimezone(UTC).isoformat(timespec="minutes")


def _slot_on(schedule: Schedule, day: date) -> datetime | None:
    if day.weekday() not in schedule.days:
        return None
    # A wall time skipped by a DST jump resolves forward, as zoneinfo does (fold=0).
    return datetime.combine(day, schedule.at, tzinfo=schedule.tz).astimezone(UTC)


def latest_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The most recent slot at or before `now` (UTC), None if the schedule has no day."""
    today = now.astimezone(schedule.tz).date()
    for back in range(LOOKBACK_DAYS):
        at = _slot_on(schedule, today - timedelta(days=back))
        if at is not None and at <= now:
            return at
    return None


def previous_slot(schedule: Schedule, slot_at: datetime) -> datetime | None:
    """The slot before `slot_at`."""
    return latest_slot(schedule, slot_at - timedelta(microseconds=1))


def due_slot(
    schedule: Schedule, now: datetime, *, grace: timedelta, not_before: datetime | None = None
) -> Slot | None:
    """The slot to post now, if any: the latest one, unless older than `grace` or than
    `not_before` (the bot's first start: slots before it were never missed). The caller still
    claims it, so a slot already posted is skipped there."""
    at = latest_slot(schedule, now)
    if at is None or now - at > grace or (not_before is not None and at < not_before):
        return None
    return Slot(at, late=now - at > ON_TIME)


# -- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketLine:
    """One ticket in a list: what to show and where its card is."""

    ticket_id: int
    subject: str
    priority: Priority
    status: Status
    assignee: str | None = None  # a display name, never a mention
    card_post_id: str | None = None
    at: datetime | None = None  # the deadline, or the instant the list measures from
    note: str = ""  # e.g. a CSAT comment


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: date
    opened: int = 0
    solved: int = 0
    backlog: int = 0
    breaches: int = 0


@dataclass(frozen=True, slots=True)
class Listed:
    """A capped list: the first rows and how many there are in all."""

    total: int = 0
    rows: tuple[TicketLine, ...] = ()


@dataclass(frozen=True, slots=True)
class PageStats:
    fired: int = 0
    acknowledged: int = 0
    median_ack: timedelta | None = None


@dataclass(frozen=True, slots=True)
class SummaryData:
    title: str
    start_at: datetime
    end_at: datetime
    now: datetime
    tz: ZoneInfo = ZoneInfo("UTC")
    late: bool = False
    opened_by_form: Mapping[str, int] = field(default_factory=dict)
    opened_by_priority: Mapping[str, int] = field(default_factory=dict)
    opened_by_plan: Mapping[str, int] = field(default_factory=dict)  # "none": no plan
    opened_by_category: Mapping[str, int] = field(default_factory=dict)
    solved: int = 0
    closed: int = 0
    reopened: int = 0
    backlog: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (status, priority)
    unassigned: Listed = Listed()
    breached: Listed = Listed()
    breaches_in_period: int = 0
    next_to_breach: Listed = Listed()
    pending_days: int = 3
    pending: Listed = Listed()
    escalations: Mapping[str, int] | None = None  # stage -> open tickets; None: not wired
    pages: PageStats | None = None  # None: on-call paging not wired
    csat_good: int = 0
    csat_bad: int = 0
    bad_ratings: Listed = Listed()
    first_reply_median: timedelta | None = None
    next_reply_median: timedelta | None = None
    sla_met: int = 0
    sla_breached: int = 0
    days: tuple[DayPoint, ...] = ()

    @property
    def opened(self) -> int:
        return sum(self.opened_by_priority.values())

    @property
    def csat(self) -> float | None:
        total = self.csat_good + self.csat_bad
        return self.csat_good / total if total else None

    @property
    def attainment(self) -> float | None:
        total = self.sla_met + self.sla_breached
        return self.sla_met / total if total else None


def median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def backlog_delta(kind: str, from_value: str | None, to_value: str | None) -> int:
    """How one event changes the backlog (New + Open + Pending)."""
    if kind == "opened":
        return 1
    if kind != "status_changed":
        return 0
    if from_value in DONE_STATUSES and to_value in ACTIVE_STATUSES:
        return 1
    if from_value in ACTIVE_STATUSES and to_value in DONE_STATUSES:
        return -1
    return 0


def backlog_series(backlog_now: int, deltas: Sequence[int]) -> list[int]:
    """Backlog at the end of each day, given the backlog now and each day's net change (the last
    day ends now): walk back from now."""
    out = [0] * len(deltas)
    running = backlog_now
    for i in range(len(deltas) - 1, -1, -1):
        out[i] = running
        running -= deltas[i]
    return out


def day_bounds(
    now: datetime, tz: ZoneInfo, days: int = CHART_DAYS
) -> list[tuple[date, datetime, datetime]]:
    """The last `days` local days up to now: (day, start UTC, end UTC); the last ends at now."""
    today = now.astimezone(tz).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        out.append((day, start, min(end, now)))
    return out


# -- the Markdown -------------------------------------------------------------------------------

Link = Callable[[TicketLine], str]
PRIORITY_LABELS: Final = {p.value: p.value.capitalize() for p in Priority}
STATUS_LABELS: Final = {s.value: s.value.capitalize() for s in Status}
FORM_LABELS: Final = {"technical": "Technical", "sales": "Sales"}
PLAN_LABELS: Final = {"premium": "Premium", "enterprise": "Enterprise", "none": "No plan"}
STAGE_LABELS: Final = {  # workflows/escalation.py Stage values, in track order
    "escalated": "Escalated",
    "confirmed": "Confirmed",
    "action_plan": "Action plan",
    "fix_tested": "Fix tested",
    "released": "Fix released",
    "declined": "Declined",
}
FINAL_STAGES: Final = frozenset({"released", "declined"})  # the escalation is over
DASH: Final = "—"


def _when(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%a %-d %b %H:%M}"


def _counts(
    counts: Mapping[str, int], labels: Mapping[str, str] | None = None, cap: int | None = None
) -> str:
    items = sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return DASH
    shown = items if cap is None else items[:cap]
    words = [f"{text.inline((labels or {}).get(k, k))} {v}" for k, v in shown]
    if cap is not None and len(items) > cap:
        words.append(f"and {len(items) - cap} more")
    return " · ".join(words)


def _ordered(counts: Mapping[str, int], order: Sequence[str]) -> dict[str, int]:
    known = {k: counts.get(k, 0) for k in order if counts.get(k, 0)}
    return known | {k: v for k, v in counts.items() if k not in known and v}


def _line(row: TicketLine, link: Link, detail: str) -> str:
    subject = text.inline(row.subject, max_len=60)
    who = text.inline(row.assignee, max_len=40) if row.assignee else "unassigned"
    priority = PRIORITY_LABELS.get(row.priority.value, row.priority.value)
    return f"- {link(row)} {priority} · {subject} · {detail} · {who}"


def _list(
    title: str, listed: Listed, link: Link, detail: Callable[[TicketLine], str], cap: int
) -> list[str]:
    if not listed.total:
        return [f"**{title}:** none"]
    lines = [f"**{title}:** {listed.total}"]
    rows = listed.rows[:cap]
    lines += [_line(r, link, detail(r)) for r in rows]
    if listed.total > len(rows):
        lines.append(f"- and {listed.total - len(rows)} more")
    return lines


def _backlog_table(data: SummaryData) -> list[str]:
    priorities = [p.value for p in Priority]
    extra = sorted({p for _, p in data.backlog} - set(priorities))
    columns = priorities + extra
    total = sum(data.backlog.values())
    if not total:
        return ["**Backlog now:** empty"]
    head = "| | " + " | ".join(PRIORITY_LABELS.get(c, c) for c in columns) + " | Total |"
    rows = [f"**Backlog now:** {total}", "", head, "|:--|" + "--:|" * (len(columns) + 1)]
    for status in (s.value for s in BACKLOG_STATUSES):
        cells = [data.backlog.get((status, c), 0) for c in columns]
        rows.append(
            f"| {STATUS_LABELS[status]} | "
            + " | ".join(str(c) for c in cells)
            + f" | {sum(cells)} |"
        )
    sums = [sum(data.backlog.get((s.value, c), 0) for s in BACKLOG_STATUSES) for c in columns]
    rows.append("| **Total** | " + " | ".join(str(c) for c in sums) + f" | **{total}** |")
    return rows + [""]


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{round(value * 100)}%"


def _dur(value: timedelta | None) -> str:
    return (
        DASH
        if value is None
        else text.format_duration(timedelta(minutes=value // timedelta(minutes=1)))
    )


def render(data: SummaryData, link: Link, *, top_n: int = 5, category_cap: int = 8) -> str:
    """The summary post's Markdown: short sections, one table, capped lists."""
    tz, now = data.tz, data.now
    head = f"#### :sunrise: {data.title} · {_when(data.end_at, tz)} {tz.key}"
    lines = [head]
    if data.late:
        lines.append(
            f"_Posted late, at {_when(now, tz)}: the bot was not running at the scheduled time._"
        )
    lines += [
        "",
        f"**Since {_when(data.start_at, tz)}:** {data.opened} opened · {data.solved} solved · "
        f"{data.closed} closed · {data.reopened} reopened",
    ]
    if data.opened:
        by_priority = _ordered(data.opened_by_priority, list(PRIORITY_LABELS))
        lines += [
            f"- by priority: {_counts(by_priority, PRIORITY_LABELS)}",
            f"- by form: {_counts(data.opened_by_form, FORM_LABELS)}"
            f" · by plan: {_counts(data.opened_by_plan, PLAN_LABELS)}",
            f"- by category: {_counts(data.opened_by_category, cap=category_cap)}",
        ]
    lines.append("")
    lines += _backlog_table(data)
    lines.append("**Needs action**")
    needs_action: tuple[tuple[str, Any, Callable[[datetime], str]], ...] = (
        ("Unassigned", data.unassigned, lambda at: f"waiting {text.format_age(at, now)}"),
        ("Breached (deadline passed)", data.breached,
         lambda at: f"overdue {text.format_age(at, now)}"),
        ("Next to breach", data.next_to_breach, lambda at: f"{_dur(at - now)} left"),
        (f"Pending over {data.pending_days} days", data.pending,
         lambda at: f"pending {text.format_age(at, now)}"),
    )
    for title, rows, detail in needs_action:
        lines += _list(title, rows, link,
                       lambda r, detail=detail: detail(r.at) if r.at else "", top_n)
    lines.append("")
    if data.escalations is None:
        escalations = DASH  # the escalation feature (issue 6) is not wired
    elif not any(data.escalations.values()):
        escalations = "none"
    else:
        escalations = _counts(_ordered(data.escalations, list(STAGE_LABELS)), STAGE_LABELS)
    lines.append(f"**Escalations to SET (open) by stage:** {escalations}")
    if data.pages is None:
        lines.append(f"**On-call pages:** {DASH}")
    else:
        p = data.pages
        lines.append(
            f"**On-call pages:** {p.fired} fired · {p.acknowledged} acknowledged · "
            f"median time to acknowledge {_dur(p.median_ack)}"
        )
    ratings = data.csat_good + data.csat_bad
    lines.append(f"**CSAT received:** {ratings} ({data.csat_good} good, {data.csat_bad} bad)")
    if data.bad_ratings.total:
        rows = data.bad_ratings.rows[:top_n]
        lines += [
            f"- {link(r)} "
            + (f"“{text.inline(r.note, max_len=140)}”" if r.note else "_no comment_")
            for r in rows
        ]
        if data.bad_ratings.total > len(rows):
            lines.append(f"- and {data.bad_ratings.total - len(rows)} more")
    lines += [
        "",
        f"**Period metrics:** median first reply {_dur(data.first_reply_median)} · "
        f"median next reply {_dur(data.next_reply_median)} · "
        f"SLA attainment {_pct(data.attainment)}"
        + (
            f" ({data.sla_met}/{data.sla_met + data.sla_breached})"
            if data.attainment is not None
            else ""
        )
        + f" · CSAT {_pct(data.csat)} · {data.breaches_in_period} SLA breaches",
    ]
    return "\n".join(lines)


def render_fitted(
    data: SummaryData, link: Link, *, top_n: int = 5, limit: int = SAFE_LIMIT
) -> str:
    """`render`, lists shortened until it fits under `limit` runes (a hard cut as last resort)."""
    n, cap = top_n, 8
    while True:
        out = render(data, link, top_n=n, category_cap=cap)
        if len(out) <= limit:
            return out
        if n == 0 and cap == 0:
            return out[: limit - 20].rsplit("\n", 1)[0] + "\n… (shortened)"
        n, cap = n // 2, cap // 2
