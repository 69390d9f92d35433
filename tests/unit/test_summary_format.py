"""The summary's Markdown: sections, caps, links, and the post length limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.model import Priority, Status
from workflows.summary import (
    POST_LIMIT,
    DayPoint,
    Listed,
    PageStats,
    SummaryData,
    TicketLine,
    backlog_delta,
    backlog_series,
    day_bounds,
    median,
    render,
    render_fitted,
)

NOW = datetime(2026, 3, 3, 9, tzinfo=UTC)


def link(row: TicketLine) -> str:
    return f"[#{row.ticket_id}](http://mm/main/pl/{row.card_post_id})"


def row(i: int, **kw: object) -> TicketLine:
    base = dict(
        ticket_id=i,
        subject=f"Subject {i} with @channel",
        priority=Priority.HIGH,
        status=Status.OPEN,
        assignee="Sam",
        card_post_id=f"p{i}",
        at=NOW - timedelta(hours=2),
    )
    return TicketLine(**{**base, **kw})  # type: ignore[arg-type]


def data(**kw: object) -> SummaryData:
    base = dict(title="Daily summary", start_at=NOW - timedelta(days=1), end_at=NOW, now=NOW)
    return SummaryData(**{**base, **kw})  # type: ignore[arg-type]


def test_counts_backlog_table_and_lists() -> None:
    out = render(
        data(
            opened_by_priority={"urgent": 1, "normal": 2},
            opened_by_form={"technical": 3},
            opened_by_plan={"premium": 2, "none": 1},
            opened_by_category={"Database": 3},
            solved=2,
            closed=1,
            reopened=1,
            backlog={("new", "urgent"): 1, ("open", "normal"): 4},
            unassigned=Listed(1, (row(7, assignee=None),)),
            next_to_breach=Listed(1, (row(8, at=NOW + timedelta(minutes=45)),)),
        ),
        link,
    )
    assert "3 opened · 2 solved · 1 closed · 1 reopened" in out
    assert "Urgent 1" in out and "Premium 2" in out and "No plan 1" in out
    assert "| New | 1 | 0 | 0 | 0 | 1 |" in out and "**5**" in out
    assert "[#7](http://mm/main/pl/p7)" in out and "unassigned" in out
    assert "45m left" in out
    assert "@channel" not in out  # subjects never mention


def test_unwired_features_show_a_dash_and_wired_ones_figures() -> None:
    out = render(data(), link)
    assert "**Escalations to SET (open) by stage:** —" in out and "**On-call pages:** —" in out
    out = render(
        data(
            escalations={"escalated": 2, "confirmed": 1},
            pages=PageStats(3, 2, timedelta(minutes=6)),
        ),
        link,
    )
    assert "Escalated 2 · Confirmed 1" in out
    assert "3 fired · 2 acknowledged · median time to acknowledge 6m" in out


def test_bad_ratings_with_comments_and_period_metrics() -> None:
    out = render(
        data(
            csat_good=3,
            csat_bad=1,
            bad_ratings=Listed(1, (row(4, note="Too slow"),)),
            first_reply_median=timedelta(minutes=70),
            sla_met=9,
            sla_breached=1,
        ),
        link,
    )
    assert "“Too slow”" in out and "CSAT 75%" in out
    assert "median first reply 1h 10m" in out and "SLA attainment 90% (9/10)" in out


def test_long_lists_say_how_many_more() -> None:
    rows = tuple(row(i) for i in range(5))
    out = render(data(breached=Listed(17, rows)), link, top_n=5)
    assert "- and 12 more" in out


def test_late_marker() -> None:
    assert "Posted late" in render(data(late=True, now=NOW + timedelta(hours=2)), link)


def test_always_under_the_post_limit_whatever_the_volume() -> None:
    many = Listed(100_000, tuple(row(i, subject="x" * 500) for i in range(50)))
    huge = data(
        unassigned=many,
        breached=many,
        next_to_breach=many,
        pending=many,
        bad_ratings=Listed(100_000, tuple(row(i, note="y" * 2000) for i in range(50))),
        opened_by_category={f"cat {i}" * 5: i + 1 for i in range(500)},
    )
    out = render_fitted(huge, link, top_n=50)
    assert len(out) < POST_LIMIT
    assert "more" in out


def test_backlog_walks_back_from_now() -> None:
    assert backlog_delta("opened", None, None) == 1
    assert backlog_delta("status_changed", "open", "solved") == -1
    assert backlog_delta("status_changed", "solved", "open") == 1
    assert backlog_delta("status_changed", "new", "open") == 0
    assert backlog_series(10, [2, -1, 3]) == [8, 7, 10]


def test_day_bounds_end_now() -> None:
    bounds = day_bounds(NOW, ZoneInfo("UTC"), days=2)
    assert [b[0] for b in bounds] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert bounds[-1][2] == NOW


def test_median() -> None:
    assert median([]) is None
    assert median([timedelta(1), timedelta(3)]) == timedelta(2)


def test_chart_png() -> None:
    from commands.summary.chart import render_png

    png = render_png(
        [DayPoint(date(2026, 3, 1) + timedelta(i), i, i, 5, i % 2) for i in range(14)]
    )
    assert png.startswith(b"\x89PNG")


async def test_the_chart_is_drawn_in_a_child_process_and_matplotlib_stays_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from commands.summary.chart import render_apart

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it here would now fail
    png = await render_apart([DayPoint(date(2025, 3, 3), opened=4, solved=2, backlog=9,
                                       breaches=1)])
    assert png is not None and png.startswith(b"\x89PNG")
