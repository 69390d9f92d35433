"""Slot arithmetic of the daily summary: which slot is due, late, or never missed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.summary import Schedule, due_slot, latest_slot, previous_slot, slot_key

WEEKDAYS_9 = Schedule(time(9), ZoneInfo("UTC"), frozenset(range(5)))
MON = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
GRACE = timedelta(hours=6)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def test_slot_key_is_the_utc_minute() -> None:
    assert slot_key(at(MON, 9)) == "summary:2026-11-30T09:00+00:00"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(MON, 9), at(MON, 9)),  # exactly at the slot
        (at(MON, 8, 59), at(MON - timedelta(days=3), 9)),  # before Monday's: Friday's
        (at(MON + timedelta(days=5), 12), at(MON + timedelta(days=4), 9)),  # Saturday: Friday's
        (at(MON + timedelta(days=1), 23), at(MON + timedelta(days=1), 9)),
    ],
)
def test_latest_slot(now: datetime, expected: datetime) -> None:
    assert latest_slot(WEEKDAYS_9, now) == expected


def test_previous_slot_skips_the_weekend() -> None:
    assert previous_slot(WEEKDAYS_9, at(MON, 9)) == at(MON - timedelta(days=3), 9)


def test_due_on_time_within_five_minutes() -> None:
    slot = due_slot(WEEKDAYS_9, at(MON, 9, 3), grace=GRACE)
    assert slot is not None and slot.at == at(MON, 9) and not slot.late


def test_due_late_within_grace_and_not_after() -> None:
    slot = due_slot(WEEKDAYS_9, at(MON, 14, 59), grace=GRACE)
    assert slot is not None and slot.late
    assert due_slot(WEEKDAYS_9, at(MON, 15, 1), grace=GRACE) is None


def test_slots_before_the_first_start_were_never_missed() -> None:
    assert due_slot(WEEKDAYS_9, at(MON, 10), grace=GRACE, not_before=at(MON, 9, 30)) is None
    assert due_slot(WEEKDAYS_9, at(MON, 10), grace=GRACE, not_before=at(MON, 8)) is not None


def test_local_time_and_zone_follow_dst() -> None:
    berlin = Schedule(time(9), ZoneInfo("Europe/Berlin"), frozenset(range(7)))
    winter = latest_slot(berlin, datetime(2026, 1, 5, 12, tzinfo=UTC))
    summer = latest_slot(berlin, datetime(2026, 7, 6, 12, tzinfo=UTC))
    assert winter == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert summer == datetime(2026, 7, 6, 7, tzinfo=UTC)


def test_no_days_means_no_slot() -> None:
    assert latest_slot(Schedule(days=frozenset()), MON) is None


def test_cron_kwargs_carry_the_zone() -> None:
    cron = Schedule.parse("09:30", "Europe/Berlin", ["mon", "fri"]).cron()
    assert cron == {"day_of_week": "mon,fri", "hour": 9, "minute": 30, "timezone": "Europe/Berlin"}
