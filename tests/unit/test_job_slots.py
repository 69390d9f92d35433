"""Replicas (issue 8): which slot a job run belongs to (bot/scheduling.py), from the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduling import JobSpec


async def _job(deps: object, now: datetime) -> int:
    return 0


MON_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WEEKDAYS_9_BERLIN = {"day_of_week": "mon,tue,wed,thu,fri", "hour": 9, "minute": 0,
                     "timezone": "Europe/Berlin"}


@pytest.mark.parametrize(("now", "slot"), [
    (MON_10, MON_10),
    (MON_10 + timedelta(minutes=4, seconds=59), MON_10),
    (MON_10 + timedelta(minutes=5), MON_10 + timedelta(minutes=5)),
    (MON_10 - timedelta(microseconds=1), MON_10 - timedelta(minutes=5)),
])
def test_an_interval_slot_is_the_epoch_aligned_window_holding_now(
    now: datetime, slot: datetime,
) -> None:
    assert JobSpec("sweep", _job, every=timedelta(minutes=5)).slot(now) == slot


def test_interval_triggers_fire_at_the_start_of_each_window() -> None:
    spec = JobSpec("sweep", _job, every=timedelta(minutes=5))
    fire = spec.trigger().get_next_fire_time(None, MON_10 + timedelta(minutes=2))
    assert fire == MON_10 + timedelta(minutes=5) and spec.slot(fire) == fire


@pytest.mark.parametrize(("now", "slot"), [
    (MON_10, datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),  # 09:00 in Berlin is 08:00 UTC in March
    (datetime(2026, 3, 3, 8, 0, tzinfo=UTC), datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
    (datetime(2026, 3, 3, 7, 59, 59, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
    (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),  # Sunday
])
def test_a_cron_slot_is_the_latest_fire_time_not_after_now(now: datetime, slot: datetime) -> None:
    spec = JobSpec("summary", _job, cron=WEEKDAYS_9_BERLIN)
    assert spec.slot(now) == slot


def test_only_interval_jobs_may_rerun_their_own_slot() -> None:
    assert JobSpec("sweep", _job, every=timedelta(minutes=1)).rerun is True
    assert JobSpec("summary", _job, cron=WEEKDAYS_9_BERLIN).rerun is False
