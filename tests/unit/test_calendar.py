"""Business-hours arithmetic in the requester's zone: weekends, holidays, DST, far-off zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.calendar import WEEKDAYS, BusinessCalendar, business_calendar, zone_from_profile

LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
OFFICE = BusinessCalendar(tz=LA)


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


def wall(cal: BusinessCalendar, at: datetime) -> str:
    """The instant as the requester's wall clock and calendar show it."""
    return at.astimezone(cal.tz).strftime("%a %Y-%m-%d %H:%M")


# --- pinned arithmetic ---------------------------------------------------------------------

def test_friday_1630_plus_one_business_hour_is_monday_0930() -> None:
    due = OFFICE.add(local(LA, 2025, 6, 6, 16, 30), H)
    assert wall(OFFICE, due) == "Mon 2025-06-09 09:30"


def test_a_budget_that_ends_at_closing_time_is_due_at_closing_not_next_morning() -> None:
    due = OFFICE.add(local(LA, 2025, 6, 6, 16, 30), timedelta(minutes=30))
    assert wall(OFFICE, due) == "Fri 2025-06-06 17:00"


def test_an_event_at_0300_saturday_waits_for_monday_morning() -> None:
    saturday = local(LA, 2025, 6, 7, 3, 0)
    assert wall(OFFICE, OFFICE.add(saturday, H)) == "Mon 2025-06-09 10:00"
    assert wall(OFFICE, OFFICE.add(saturday, timedelta(0))) == "Mon 2025-06-09 09:00"
    assert OFFICE.elapsed(saturday, local(LA, 2025, 6, 9, 9, 0)) == timedelta(0)
    assert OFFICE.elapsed(saturday, local(LA, 2025, 6, 9, 9, 45)) == timedelta(minutes=45)
    assert not OFFICE.is_open(saturday)


def test_a_requester_in_tokyo_counts_tokyo_hours_whatever_the_utc_date() -> None:
    cal = BusinessCalendar(tz=TOKYO)
    sunday_utc = datetime(2025, 6, 8, 23, 30, tzinfo=UTC)  # Monday 08:30 in Tokyo
    due = cal.add(sunday_utc, 2 * H)
    assert wall(cal, due) == "Mon 2025-06-09 11:00"
    assert due == datetime(2025, 6, 9, 2, 0, tzinfo=UTC)


def test_tokyo_24_business_hours_from_friday_afternoon_is_wednesday_afternoon() -> None:
    cal = BusinessCalendar(tz=TOKYO)
    due = cal.add(local(TOKYO, 2025, 6, 6, 16, 30), 24 * H)
    assert wall(cal, due) == "Wed 2025-06-11 16:30"


def test_a_holiday_is_skipped() -> None:
    cal = BusinessCalendar(tz=LA, holidays=frozenset({date(2025, 12, 25)}))
    due = cal.add(local(LA, 2025, 12, 24, 16, 0), 2 * H)
    assert wall(cal, due) == "Fri 2025-12-26 10:00"
    assert cal.elapsed(local(LA, 2025, 12, 24, 0, 0), local(LA, 2025, 12, 27, 0, 0)) == 16 * H


def test_los_angeles_across_the_march_change_keeps_wall_hours() -> None:
    friday = local(LA, 2025, 3, 7, 16, 0)  # PST, -8; clocks spring forward on Sunday 9 March
    due = OFFICE.add(friday, 2 * H)
    assert wall(OFFICE, due) == "Mon 2025-03-10 10:00"
    assert due - friday == 65 * H  # the weekend was an hour short
    assert OFFICE.elapsed(friday, due) == 2 * H


def test_los_angeles_across_the_november_change_keeps_wall_hours() -> None:
    friday = local(LA, 2025, 10, 31, 16, 0)  # PDT, -7; clocks fall back on Sunday 2 November
    due = OFFICE.add(friday, 2 * H)
    assert wall(OFFICE, due) == "Mon 2025-11-03 10:00"
    assert due - friday == 67 * H  # the weekend was an hour long


@pytest.mark.parametrize("day", [date(2025, 3, 9), date(2025, 11, 2)])
def test_a_dst_sunday_worked_in_los_angeles_is_eight_wall_hours(day: date) -> None:
    seven_days = BusinessCalendar(tz=LA, days=frozenset(range(7)))
    opens_at, closes_at = seven_days.window(day)
    assert seven_days.elapsed(opens_at, closes_at) == 8 * H
    assert wall(seven_days, seven_days.add(opens_at, 3 * H)).endswith(" 12:00")


def test_hours_that_span_the_change_count_real_time_not_wall_time() -> None:
    night = BusinessCalendar(tz=LA, opens=time(0, 0), closes=time(6, 0), days=frozenset(range(7)))
    assert night.elapsed(*night.window(date(2025, 3, 9))) == 5 * H
    assert night.elapsed(*night.window(date(2025, 11, 2))) == 7 * H


@pytest.mark.parametrize(
    ("zone", "utc_at", "local_due"),
    [
        ("Pacific/Kiritimati", "2025-06-08T20:00Z", "Mon 2025-06-09 11:00"),  # +14
        ("Pacific/Pago_Pago", "2025-06-09T20:00Z", "Mon 2025-06-09 10:00"),  # -11
        ("Asia/Kathmandu", "2025-06-09T03:15Z", "Mon 2025-06-09 10:00"),  # +5:45
    ],
)
def test_zones_far_from_utc(zone: str, utc_at: str, local_due: str) -> None:
    cal = BusinessCalendar(tz=ZoneInfo(zone))
    assert wall(cal, cal.add(datetime.fromisoformat(utc_at), H)) == local_due


def test_a_full_week_has_forty_business_hours() -> None:
    monday = local(LA, 2025, 6, 9, 0, 0)
    assert OFFICE.elapsed(monday, monday + timedelta(days=7)) == 40 * H
    assert OFFICE.elapsed(monday + timedelta(days=7), monday) == timedelta(0)


def test_next_business_day_end_is_the_close_of_the_following_business_day() -> None:
    def due(*at: int) -> str:
        return wall(OFFICE, OFFICE.next_business_day_end(local(LA, *at)))

    assert due(2025, 6, 9, 7, 0) == "Tue 2025-06-10 17:00"  # before Monday opens: Tuesday
    assert due(2025, 6, 6, 16, 0) == "Mon 2025-06-09 17:00"
    assert due(2025, 6, 7, 3, 0) == "Mon 2025-06-09 17:00"


def test_every_instant_returned_is_utc() -> None:
    assert OFFICE.add(local(LA, 2025, 6, 9, 10, 0), H).tzinfo is UTC


@pytest.mark.parametrize(
    "bad",
    [
        {"opens": time(17), "closes": time(9)},
        {"days": frozenset()},
        {"days": frozenset({7})},
        {"opens": time(9, tzinfo=UTC)},
    ],
)
def test_nonsense_hours_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="opens|days|wall"):
        BusinessCalendar(**bad)  # type: ignore[arg-type]


def test_naive_datetimes_and_negative_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        OFFICE.add(datetime(2025, 6, 9, 10, 0), H)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(local(LA, 2025, 6, 9, 10, 0), -H)


def test_business_calendar_reads_configuration_values() -> None:
    cal = business_calendar("Europe/Berlin", opens="08:30", closes="16:00", days=[0, 1, 2, 3],
                            holidays=["2025-12-25", date(2025, 12, 26)])
    assert cal == BusinessCalendar(ZoneInfo("Europe/Berlin"), time(8, 30), time(16),
                                   frozenset({0, 1, 2, 3}),
                                   frozenset({date(2025, 12, 25), date(2025, 12, 26)}))
    assert cal.in_zone(TOKYO).tz == TOKYO
    assert business_calendar().days == WEEKDAYS


# --- the zone of a Mattermost profile ------------------------------------------------------

@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"useAutomaticTimezone": "true", "automaticTimezone": "Asia/Tokyo",
          "manualTimezone": ""}, "Asia/Tokyo"),
        ({"useAutomaticTimezone": "false", "automaticTimezone": "Asia/Tokyo",
          "manualTimezone": "America/Los_Angeles"}, "America/Los_Angeles"),
        ({"useAutomaticTimezone": True, "automaticTimezone": "Europe/Paris"}, "Europe/Paris"),
        ({"useAutomaticTimezone": "false", "automaticTimezone": "Asia/Tokyo",
          "manualTimezone": ""}, "Europe/London"),
        ({"useAutomaticTimezone": "true", "automaticTimezone": "Mars/Olympus_Mons"},
         "Europe/London"),
        ({"useAutomaticTimezone": "true", "automaticTimezone": "../../etc/passwd"},
         "Europe/London"),
        ({"useAutomaticTimezone": "true", "automaticTimezone": 42}, "Europe/London"),
        ({}, "Europe/London"),
        (None, "Europe/London"),
    ],
)
def test_zone_from_profile(profile: dict[str, object] | None, expected: str) -> None:
    assert zone_from_profile(profile, fallback="Europe/London") == ZoneInfo(expected)


# --- properties ----------------------------------------------------------------------------

ZONES = [ZoneInfo(z) for z in (
    "UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe",
    "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns", "Asia/Kathmandu",
    "America/Santiago", "America/Havana",
)]
DST_ZONES = [z for z in ZONES if z.key in (
    "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
    "America/St_Johns",
)]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Any zone, hours of at least one hour, any non-empty set of days, a few holidays."""
    opens = time(draw(st.integers(0, 22)), draw(st.sampled_from([0, 15, 30, 45])))
    length = draw(st.integers(60, 12 * 60))
    end = min(opens.hour * 60 + opens.minute + length, 24 * 60 - 1)
    closes = time(end // 60, end % 60)
    return BusinessCalendar(
        tz=draw(st.sampled_from(ZONES)),
        opens=opens,
        closes=closes,
        days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        holidays=draw(st.frozensets(st.dates(date(2024, 1, 1), date(2026, 12, 31)), max_size=20)),
    )


instants = st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 31),  # noqa: DTZ001 - naive bounds
                        timezones=st.just(UTC))
budgets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))
plain = st.builds(BusinessCalendar, tz=st.sampled_from(ZONES))


@settings(max_examples=200)
@given(calendars(), instants, budgets)
def test_a_deadline_is_never_inside_closed_hours(
    cal: BusinessCalendar, start_at: datetime, budget: timedelta
) -> None:
    due = cal.add(start_at, budget)
    assert cal.is_open(due)
    assert due >= start_at


@settings(max_examples=200)
@given(calendars(), instants, budgets)
def test_elapsed_undoes_add(cal: BusinessCalendar, start_at: datetime, budget: timedelta) -> None:
    assert cal.elapsed(start_at, cal.add(start_at, budget)) == budget


@given(plain | calendars(), instants, budgets, budgets)
def test_add_is_monotonic_in_the_budget(
    cal: BusinessCalendar, start_at: datetime, a: timedelta, b: timedelta
) -> None:
    assert cal.add(start_at, min(a, b)) <= cal.add(start_at, max(a, b))


@given(plain | calendars(), instants, st.timedeltas(timedelta(0), timedelta(days=5)), budgets)
def test_add_is_monotonic_in_the_start(
    cal: BusinessCalendar, start_at: datetime, later: timedelta, budget: timedelta
) -> None:
    assert cal.add(start_at, budget) <= cal.add(start_at + later, budget)


@given(plain | calendars(), instants, st.timedeltas(timedelta(0), timedelta(days=9)),
       st.timedeltas(timedelta(0), timedelta(days=9)))
def test_elapsed_adds_up_over_consecutive_spans(
    cal: BusinessCalendar, a: datetime, ab: timedelta, bc: timedelta
) -> None:
    b, c = a + ab, a + ab + bc
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)


@given(st.sampled_from(DST_ZONES), st.dates(date(2024, 1, 1), date(2026, 12, 31)),
       st.timedeltas(timedelta(0), timedelta(hours=8)))
def test_every_day_including_dst_days_has_its_wall_length(
    tz: ZoneInfo, day: date, into_the_day: timedelta
) -> None:
    cal = BusinessCalendar(tz=tz, days=frozenset(range(7)))
    opens_at, closes_at = cal.window(day)
    assert cal.elapsed(opens_at, closes_at) == 8 * H
    due = cal.add(opens_at, into_the_day).astimezone(tz)
    nine = datetime.combine(day, time(9))  # noqa: DTZ001 - wall-clock arithmetic on purpose
    assert (due.date(), due.time()) == (day, (nine + into_the_day).time())
