"""The parts of the kill -9 test (issue 8, fault 3) that need no bot: the script, the kill plan,
the test clock and the comparison. Fast; the day itself is tests/reliability/test_kill9.py."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.reliability.kill9_compare import Outcome, compare, explain, normalise, normalise_key
from tests.reliability.kill9_script import (
    PAGE_CHAIN_STEPS, STEPS, build_day, day_start, plan_kills,
)
from tests.reliability.proc_bot import FileClock


def test_the_day_is_the_same_for_the_same_seed_and_tickets_open_in_number_order() -> None:
    day = build_day(8)
    assert day.acts == build_day(8).acts and day.acts != build_day(9).acts
    assert [a.ticket for a in day.by_kind("submit")] == list(range(1, 31))
    assert [a.step for a in day.by_kind("jobs")] == list(range(STEPS + 1))
    opened = {a.ticket: a for a in day.by_kind("submit")}
    for act in day.acts:
        if act.kind in ("take", "staff_reply", "customer", "status"):
            assert act.index > opened[act.ticket].index
            if act.ticket in day.paged:  # left alone until the page chains ran out
                assert act.step >= opened[act.ticket].step + PAGE_CHAIN_STEPS
    assert len(day.paged) == 6
    assert all(opened[n].user in ("alice", "carol") and opened[n].priority in ("urgent", "high")
               for n in day.paged)


def test_twenty_kills_at_distinct_actions_of_every_kind() -> None:
    day = build_day(8)
    kills = plan_kills(day, 8)
    assert len({k.index for k in kills}) == 20
    kinds = Counter(day.acts[k.index].kind for k in kills)
    assert kinds["submit"] == 7 and kinds["jobs"] == 6
    assert kinds["staff_reply"] + kinds["customer"] == 5 and kinds["status"] + kinds["take"] == 2
    assert all(k.mode == "during" for k in kills if day.acts[k.index].kind == "jobs")
    assert sum(k.mode == "before" for k in kills
               if day.acts[k.index].kind in ("staff_reply", "customer")) >= 2


def test_the_day_starts_on_a_monday_at_ten_a_week_ahead() -> None:
    now = datetime(2026, 11, 29, 16, 5, tzinfo=UTC)  # a Sunday
    start = day_start(now)
    assert start == datetime(2026, 12, 7, 10, 0, tzinfo=UTC) and start.weekday() == 0
    assert start - now >= timedelta(days=7)


def test_the_file_clock_reads_the_instant_the_test_wrote(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-12-07T10:00:00+00:00")
    clock = FileClock(path)
    assert clock() == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    tmp = tmp_path / "clock.tmp"
    tmp.write_text("2026-12-07T10:30:00+00:00")
    os.replace(tmp, path)
    assert clock() == datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def test_signatures_drop_ids_urls_nonces_and_mention_order() -> None:
    a = normalise("@tess @lee @sam [#3](http://127.0.0.1:4123/main/pl/abcdefghijklmnopqrstuvwxyz)")
    b = normalise("@lee @sam @tess [#3](http://127.0.0.1:5999/main/pl/zyxwvutsrqponmlkjihgfedcba)")
    assert a == b == "@lee @sam @tess [#3](<url>/main/pl/<id>)"
    assert normalise_key("t4:note:0123456789ab") == normalise_key("t4:note:ba9876543210")
    assert normalise_key("t4:relay:abcdefghijklmnopqrstuvwxyz") == "t4:relay:<id>"
    stable = "t4:sla:4:first_reply:first:warning"
    assert normalise_key(stable) == stable


def test_the_comparison_counts_duplicates_losses_and_changed_texts() -> None:
    def sig(role: str, text: str) -> tuple:
        return ("customer-support", 1, 1, role, f"t1:{role}", text, 0)

    a = Outcome(tickets=[(1, "S", "open")], posts=Counter({sig("page", "p"): 1,
                                                         sig("relay", "r"): 1,
                                                         sig("sla", "@sam late"): 1}))
    b = Outcome(tickets=[(1, "S", "solved")], posts=Counter({sig("page", "p"): 2,
                                                           sig("sla", "@here late"): 1}))
    d = compare(a, b)
    assert sum(d.duplicates.values()) == 1 and sum(d.lost.values()) == 1  # the page, the relay
    assert d.changed == [(sig("sla", "@sam late"), sig("sla", "@here late"))]
    assert d.tickets_matching == 0 and not d.clean
    text = explain(d)
    assert "CHANGED: customer-support thread of #1 role=sla" in text
    assert "- @sam late" in text and "+ @here late" in text
    assert "DUPLICATE x1: customer-support thread of #1 role=page" in text
    assert "LOST x1: customer-support thread of #1 role=relay" in text
    assert "ticket 1: without kills (1, 'S', 'open'), with kills (1, 'S', 'solved')" in text
