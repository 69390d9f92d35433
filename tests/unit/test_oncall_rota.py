"""The follow-the-sun rota: shifts, rotations, overrides, hand-overs and gaps in cover."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.rota import (
    Gap,
    Handover,
    Level,
    Override,
    Region,
    Rota,
    Shift,
    coverage_gaps,
    handovers,
    parse_duration,
    parse_handover,
    parse_hours,
    rotation_index,
    who_is_on_call,
)

BERLIN = ZoneInfo("Europe/Berlin")
SINGAPORE = ZoneInfo("Asia/Singapore")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
MONDAY = datetime(2025, 3, 24, 0, 0, tzinfo=UTC)  # Berlin is UTC+1 until 2025-03-30 01:00 UTC


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def region(name: str, tz: ZoneInfo, hours: str, primary: tuple[str, ...], **kw: object) -> Region:
    return Region(name, tz, *parse_hours(hours), primary, **kw)  # type: ignore[arg-type]


APAC = region("APAC", SINGAPORE, "09:00-17:00", ("apac.a", "apac.b"), secondary=("apac.c",))
EMEA = region("EMEA", BERLIN, "08:00-16:00", ("agent.a", "agent.b"), secondary=("agent.c",))
AMER = region("AMER", NEW_YORK, "09:00-21:00", ("amer.a",), secondary=("amer.b",))
SUN = Rota((APAC, EMEA, AMER), lead=("support.lead",))


# -- configuration strings --------------------------------------------------------------------


def test_config_strings_parse() -> None:
    assert parse_hours("22:00-06:00") == (time(22), time(6))
    assert parse_hours("00:00-24:00") == (time(0), time(0))
    assert parse_handover("mon 08:00") == (0, time(8))
    assert parse_handover("Sunday 23:30") == (6, time(23, 30))
    assert parse_duration("1w") == timedelta(weeks=1)
    assert parse_duration("10m") == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_hours, "08:00"),
        (parse_hours, "8am-4pm"),
        (parse_hours, "25:00-06:00"),
        (parse_handover, "someday 08:00"),
        (parse_handover, "mon"),
        (parse_duration, "1 fortnight"),
        (parse_duration, "-1w"),
    ],
)
def test_bad_config_strings_are_refused(parse, text: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        parse(text)


def test_a_region_without_primary_people_is_refused() -> None:
    with pytest.raises(ValueError, match="primary"):
        region("EMEA", BERLIN, "08:00-16:00", ())


# -- gaps in cover ----------------------------------------------------------------------------


def test_apac_and_emea_alone_leave_the_night_uncovered() -> None:
    rota = Rota((APAC, EMEA))  # APAC 01:00-09:00 UTC, EMEA 07:00-15:00 UTC in winter
    assert coverage_gaps(rota, MONDAY, 2) == [
        Gap(at(24, 0), at(24, 1)),
        Gap(at(24, 15), at(25, 1)),
        Gap(at(25, 15), at(26, 0)),
    ]


def test_the_gap_grows_when_berlin_moves_to_summer_time() -> None:
    rota = Rota((APAC, EMEA))
    saturday, sunday = coverage_gaps(rota, at(29, 0), 2)[1:3]
    assert saturday == Gap(at(29, 15), at(30, 1))
    assert sunday.start_at == at(30, 14)  # 16:00 CEST


def test_three_regions_cover_the_whole_year_across_every_dst_change() -> None:
    assert coverage_gaps(SUN, datetime(2025, 1, 1, tzinfo=UTC), 365) == []


def test_a_gap_opens_only_after_the_dst_change() -> None:
    # Berlin 08:00-16:00 meets a UTC 15:00-07:00 shift in winter; in summer it ends at 14:00 UTC.
    night = region("NIGHT", UTC_ZONE, "15:00-07:00", ("night.a",))
    gaps = coverage_gaps(Rota((EMEA, night)), MONDAY, 14)
    assert gaps[0] == Gap(at(30, 14), at(30, 15))
    assert [g.start_at for g in gaps] == [at(30, 14)] + [at(31, 14)] + [
        datetime(2025, 4, day, 14, tzinfo=UTC) for day in range(1, 7)
    ]


def test_a_shift_crossing_midnight_covers_it() -> None:
    day = region("DAY", UTC_ZONE, "06:00-22:00", ("day.a",))
    night = region("NIGHT", UTC_ZONE, "22:00-06:00", ("night.a",))
    rota = Rota((day, night))
    assert coverage_gaps(rota, MONDAY, 7) == []
    assert who_is_on_call(rota, (), at(25, 2))[Level.PRIMARY] == Shift(
        "night.a", "NIGHT", at(25, 6)
    )


def test_a_24_hour_local_shift_has_no_gap_on_the_short_or_the_long_day() -> None:
    always = region("EMEA", BERLIN, "08:00-08:00", ("agent.a",))
    assert coverage_gaps(Rota((always,)), at(29, 0), 3) == []
    assert coverage_gaps(Rota((always,)), at(25, 0, month=10), 3) == []


TIMEZONES = [BERLIN, SINGAPORE, NEW_YORK, UTC_ZONE, ZoneInfo("Australia/Sydney")]


@st.composite
def rotas(draw: st.DrawFn) -> Rota:
    def one(index: int) -> Region:
        starts, ends = draw(st.integers(0, 95)), draw(st.integers(0, 95))
        hours = f"{starts // 4:02}:{starts % 4 * 15:02}-{ends // 4:02}:{ends % 4 * 15:02}"
        return region(f"R{index}", draw(st.sampled_from(TIMEZONES)), hours, (f"p{index}",))

    return Rota(tuple(one(i) for i in range(draw(st.integers(1, 3)))))


@settings(max_examples=60, deadline=None)
@given(rota=rotas(), minutes=st.lists(st.integers(0, 7 * 24 * 60 - 1), min_size=20, max_size=20))
def test_an_instant_is_in_a_gap_exactly_when_nobody_is_primary(
    rota: Rota, minutes: list[int]
) -> None:
    start_at = datetime(2025, 3, 27, tzinfo=UTC)  # the week holds Europe's spring DST change
    gaps = coverage_gaps(rota, start_at, 7)
    for minute in minutes:
        instant = start_at + timedelta(minutes=minute)
        in_gap = any(g.start_at <= instant < g.end_at for g in gaps)
        assert in_gap == (Level.PRIMARY not in who_is_on_call(rota, (), instant))


# -- rotation ---------------------------------------------------------------------------------


def rotating(**kw: object) -> Region:
    """EMEA around the clock, so only the weekly rotation changes who is on call."""
    return region(
        "EMEA",
        BERLIN,
        "08:00-08:00",
        ("agent.a", "agent.b"),
        secondary=("agent.c", "agent.d", "agent.e"),
        rotation_epoch=date(2025, 3, 17),
        handover_day=0,
        handover_time=time(8),
        **kw,
    )


@pytest.mark.parametrize(
    ("instant", "index", "primary", "secondary"),
    [
        (at(17, 7), 0, "agent.a", "agent.c"),  # Monday 08:00 CET: period 0 starts
        (at(24, 6, 59), 0, "agent.a", "agent.c"),
        (at(24, 7), 1, "agent.b", "agent.d"),  # one period later
        (at(31, 5, 59), 1, "agent.b", "agent.d"),
        (at(31, 6), 2, "agent.a", "agent.e"),  # two periods: 08:00 CEST is 06:00 UTC
        (at(17, 6, 59), -1, "agent.b", "agent.e"),  # before the epoch
    ],
)
def test_primary_and_secondary_rotate_independently_by_period(
    instant: datetime, index: int, primary: str, secondary: str
) -> None:
    emea = rotating()
    assert rotation_index(emea, instant) == index
    on_call = who_is_on_call(Rota((emea,)), (), instant)
    assert (on_call[Level.PRIMARY].person, on_call[Level.SECONDARY].person) == (primary, secondary)


def test_the_default_epoch_makes_the_index_deterministic() -> None:
    # 2025-03-24 is 64 weeks after Monday 2024-01-01.
    assert rotation_index(EMEA, at(24, 7)) == 64
    assert rotation_index(EMEA, at(24, 6, 59)) == 63


def test_local_handover_moves_against_utc_across_dst() -> None:
    changes = handovers(Rota((rotating(),)), (), MONDAY, 14)
    assert changes == [
        Handover(at(24, 7), "EMEA", Level.PRIMARY, "agent.b"),
        Handover(at(24, 7), "EMEA", Level.SECONDARY, "agent.d"),
        Handover(at(31, 6), "EMEA", Level.PRIMARY, "agent.a"),
        Handover(at(31, 6), "EMEA", Level.SECONDARY, "agent.e"),
    ]


def test_a_two_week_rotation_turns_every_other_week() -> None:
    emea = rotating(rotation=timedelta(weeks=2))
    assert [rotation_index(emea, at(day, 12)) for day in (17, 24, 31)] == [0, 0, 1]


# -- who is on call and hand-overs ------------------------------------------------------------


def test_follow_the_sun_hands_over_from_region_to_region() -> None:
    primary = [h for h in handovers(SUN, (), MONDAY, 1) if h.level is Level.PRIMARY]
    assert primary == [
        Handover(at(24, 1), "APAC", Level.PRIMARY, "apac.a"),  # 09:00 Singapore
        Handover(at(24, 7), "EMEA", Level.PRIMARY, "agent.a"),  # 08:00 Berlin: the newcomer
        Handover(at(24, 13), "AMER", Level.PRIMARY, "amer.a"),  # 09:00 EDT (since March 9)
    ]


def test_who_is_on_call_names_each_level_and_its_end() -> None:
    assert who_is_on_call(SUN, (), at(24, 12)) == {
        Level.PRIMARY: Shift("agent.a", "EMEA", at(24, 13)),
        Level.SECONDARY: Shift("agent.c", "EMEA", at(24, 13)),
        Level.LEAD: Shift("support.lead", None, None),
    }


def test_in_a_gap_only_the_lead_is_on_call() -> None:
    on_call = who_is_on_call(Rota((APAC, EMEA), lead=("support.lead",)), (), at(24, 20))
    assert on_call == {Level.LEAD: Shift("support.lead", None, None)}


def test_regions_starting_together_go_to_the_first_listed() -> None:
    twin = region("TWIN", BERLIN, "08:00-16:00", ("twin.a",))
    assert who_is_on_call(Rota((EMEA, twin)), (), at(24, 9))[Level.PRIMARY].region == "EMEA"
    assert who_is_on_call(Rota((twin, EMEA)), (), at(24, 9))[Level.PRIMARY].region == "TWIN"


def test_an_override_replaces_the_scheduled_person_for_its_window() -> None:
    cover = Override("agent.z", at(24, 9), at(24, 11))
    assert who_is_on_call(SUN, [cover], at(24, 10))[Level.PRIMARY] == Shift(
        "agent.z", "EMEA", at(24, 11)
    )
    assert who_is_on_call(SUN, [cover], at(24, 11))[Level.PRIMARY].person == "agent.a"
    assert handovers(SUN, [cover], at(24, 8), 4 / 24) == [
        Handover(at(24, 9), "EMEA", Level.PRIMARY, "agent.z"),
        Handover(at(24, 11), "EMEA", Level.PRIMARY, "agent.a"),
    ]


def test_an_override_for_a_level_and_region_touches_nothing_else() -> None:
    cover = Override("amer.z", at(24, 0), at(25, 0), level=Level.SECONDARY, region="AMER")
    assert who_is_on_call(SUN, [cover], at(24, 12))[Level.SECONDARY].person == "agent.c"
    on_call = who_is_on_call(SUN, [cover], at(24, 15))
    assert on_call[Level.SECONDARY].person == "amer.z"
    assert on_call[Level.PRIMARY].person == "amer.a"


def test_an_override_without_region_can_cover_a_gap() -> None:
    rota = Rota((APAC, EMEA), lead=("support.lead",))
    cover = Override("agent.z", at(24, 15), at(25, 1))
    assert who_is_on_call(rota, [cover], at(24, 20))[Level.PRIMARY] == Shift(
        "agent.z", None, at(25, 1)
    )


def test_the_later_listed_override_wins() -> None:
    first = Override("first", at(24, 9), at(24, 12))
    second = Override("second", at(24, 10), at(24, 11))
    assert who_is_on_call(SUN, [first, second], at(24, 10))[Level.PRIMARY].person == "second"


def test_an_override_of_the_lead_ends_when_it_says() -> None:
    cover = Override("deputy", at(24, 0), at(26, 0), level=Level.LEAD)
    assert who_is_on_call(SUN, [cover], at(24, 12))[Level.LEAD] == Shift("deputy", None, at(26, 0))


def test_an_override_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end after"):
        Override("agent.z", at(24, 11), at(24, 9))
