"""Fault 3 of issue 8: the bot is killed -9 at random points of a scripted day and restarted,
20 times; the final state equals the same day without kills (no lost ticket, no duplicate or
lost post, page or summary).

Run A plays the day (tests/reliability/kill9_script.py) without kills; run B plays it again on
a fresh emulator and database with 20 kills, before or during submissions, staff and customer
messages, status commands and job runs. Their final states are compared (kill9_compare.py).

    .venv/bin/pytest -q -s tests/reliability/test_kill9.py     # prints the figure line
    KILL9_SEED=3 ... / KILL9_CONTROL=1 (run B without kills: the comparison must be clean)

Each bot process logs to <tmp>/{a,b}/bot.log (restarts are marked `===== restart n =====`);
both runs use one copy of the bot's code (<tmp>/code), taken when the test starts.

The bot's clock stands still within a 30-minute step, and job slots and leases count in bot
time: work a kill interrupted is redone by the next step's jobs. An effect a person waited for
that shows up only then is printed as `late` (allowed); one that never shows up fails the test.
Slow (~4-5 min on a loaded 2-CPU machine): marked `slow`.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.reliability.kill9_compare import (
    Outcome, collect, compare, explain, figure, roles,
)
from tests.reliability.kill9_desk import Player, open_desk, snapshot_code
from tests.reliability.kill9_script import Day, Kill, build_day, plan_kills, start_clock

SEED = int(os.environ.get("KILL9_SEED", "8"))
KILLS = 20

pytestmark = pytest.mark.slow


async def play(folder: Path, code: Path, day: Day, start: datetime, kills: dict[int, Kill],
               durations: dict[int, float]) -> tuple[Player, Outcome]:
    desk = await open_desk(folder)
    player = Player(desk, folder, start, code, kills=kills, durations=dict(durations))
    try:
        await player.play(day)
        return player, collect(desk, folder / "desk.db")
    finally:
        await player.close()
        await desk.emu.stop()


async def test_kill9_at_random_points_of_a_day_ends_like_the_day_without_kills(
        tmp_path: Path) -> None:
    day = build_day(SEED)
    start = start_clock()
    began = time.monotonic()
    code = snapshot_code(tmp_path / "code")
    player_a, a = await play(tmp_path / "a", code, day, start, {}, {})
    took_a = time.monotonic() - began
    control = bool(os.environ.get("KILL9_CONTROL"))
    kills = {} if control else {k.index: k for k in plan_kills(day, SEED, KILLS)}
    player_b, b = await play(tmp_path / "b", code, day, start, kills,
                                player_a.durations)
    took = time.monotonic() - began
    d = compare(a, b)
    restarts = player_b.restarts
    print(f"\n[fault 3] {figure(len(player_b.kill_log), a, b, d)}; "
          f"seed {SEED}, {len(day.acts)} actions, run A {took_a:.0f} s, both {took:.0f} s, "
          f"restart to READY {max(restarts, default=0):.1f} s at most")
    print(f"  posts of the day without kills: {roles(a)}")
    for line in player_b.kill_log:
        print(f"  killed {line}")
    for run, player in (("A", player_a), ("B", player_b)):
        for note in player.late + player.notes:
            print(f"  run {run}: {note}")
    if not d.clean:
        print(explain(d))
    assert not (player_a.notes or player_a.late), player_a.notes + player_a.late  # the reference
    assert len(player_b.kill_log) == len(kills)
    assert len(a.tickets) == 30
    assert d.clean, explain(d)
    assert not player_b.notes, player_b.notes
