"""Follow-the-sun on-call rota: who is on call, hand-overs, gaps in cover. Pure: `now` is given."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from workflows.text import parse_duration  # one duration grammar for the whole desk

DAY: Final = timedelta(days=1)
# Period 0 of every rotation starts at the region's first hand-over on or after this Monday.
ROTATION_EPOCH: Final = date(2024, 1, 1)
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Level(StrEnum):
    """Escalation levels, in paging order."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    LEAD = "lead"


@dataclass(frozen=True, slots=True)
class Region:
    """One region's daily shift in its own time zone, and the people who rotate through it."""

    name: str
    tz: ZoneInfo
    starts: time  # local wall-clock time, every day of the week
    ends: time  # ends <= starts: the shift crosses midnight; equal: 24 hours
    primary: tuple[str, ...]
    secondary: tuple[str, ...] = ()
    rotation: timedelta = timedelta(weeks=1)
    handover_day: int = 0  # 0 = Monday
    handover_time: time | None = None  # None: at the start of the shift
    rotation_epoch: date = ROTATION_EPOCH

    def __post_init__(self) -> None:
        if not self.primary:
            raise ValueError(f"region {self.name}: primary needs at least one person")
        if self.rotation <= timedelta(0):
            raise ValueError(f"region {self.name}: rotation must be longer than zero")
        if not 0 <= self.handover_day <= 6:
            raise ValueError(f"region {self.name}: handover day must be 0 (Monday) to 6")


@dataclass(frozen=True, slots=True)
class Rota:
    """The regions that together give cover, and the lead who is the last level at any time."""

    regions: tuple[Region, ...]
    lead: tuple[str, ...] = ()  # the first name is paged; the list form matches the config

    def __post_init__(self) -> None:
        names = [region.name for region in self.regions]
        if len(set(names)) != len(names):
            raise ValueError(f"region names must be unique: {', '.join(names)}")


@dataclass(frozen=True, slots=True)
class Override:
    """`user` replaces the scheduled person at `level` in [from_at, to_at), in `region` if set."""

    user: str
    from_at: datetime
    to_at: datetime
    level: Level = Level.PRIMARY
    region: str | None = None

    def __post_init__(self) -> None:
        if self.to_at <= self.from_at:
            raise ValueError(f"override for {self.user}: it must end after it starts")


@dataclass(frozen=True, slots=True)
class Shift:
    """Who holds a level now, for which region (None: the lead, or a gap), and until when."""

    person: str
    region: str | None
    until_at: datetime | None  # None: no change in sight


@dataclass(frozen=True, slots=True)
class Handover:
    """From `at` on, `person` holds `level` (None: nobody, a gap in cover)."""

    at: datetime
    region: str | None
    level: Level
    person: str | None


@dataclass(frozen=True, slots=True)
class Gap:
    """An interval that no region's shift covers."""

    start_at: datetime
    end_at: datetime


OnCall: TypeAlias = Mapping[Level, Shift]  # a level nobody holds is absent
_Holder: TypeAlias = tuple[str, str | None]  # (person, region)


# -- configuration strings --------------------------------------------------------------------


def parse_hours(text: str) -> tuple[time, time]:
    """'08:00-16:00' -> (08:00, 16:00); '22:00-06:00' crosses midnight; '24:00' is midnight."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not hours like 08:00-16:00")
    return _clock(parts[0]), _clock(parts[1])


def parse_handover(text: str) -> tuple[int, time]:
    """'mon 08:00' -> (0, 08:00): the weekday (Monday 0) and local time of the hand-over."""
    day, _, at = text.strip().lower().partition(" ")
    if day[:3] not in WEEKDAYS:
        raise ValueError(f"{text!r} is not a hand-over like 'mon 08:00'")
    return WEEKDAYS.index(day[:3]), _clock(at)


def _clock(text: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if match is None or int(match[2]) > 59 or (int(match[1]), int(match[2])) > (24, 0):
        raise ValueError(f"{text!r} is not a time like 08:00")
    return time(int(match[1]) % 24, int(match[2]))


# -- shifts and rotations ---------------------------------------------------------------------


def _wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a local day in UTC; a time skipped by DST lands after the jump."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _shifts(
    region: Region, start_at: datetime, end_at: datetime
) -> list[tuple[datetime, datetime]]:
    """The region's shifts, in UTC, that touch [start_at, end_at]."""
    day, last = start_at.astimezone(region.tz).date() - DAY, end_at.astimezone(region.tz).date()
    windows = []
    while day <= last:
        overnight = region.ends <= region.starts
        begin = _wall(day, region.starts, region.tz)
        finish = _wall(day + DAY if overnight else day, region.ends, region.tz)
        if begin <= end_at and finish > start_at and finish > begin:
            windows.append((begin, finish))
        day += DAY
    return windows


def _anchor(region: Region) -> datetime:
    """The wall-clock hand-over that starts rotation period 0 (naive, in the region's time)."""
    offset = (region.handover_day - region.rotation_epoch.weekday()) % 7
    return datetime.combine(region.rotation_epoch + timedelta(days=offset), _handover_time(region))


def _handover_time(region: Region) -> time:
    return region.starts if region.handover_time is None else region.handover_time


def rotation_index(region: Region, at: datetime) -> int:
    """Whole rotation periods since period 0, counted in the region's wall-clock time."""
    return (at.astimezone(region.tz).replace(tzinfo=None) - _anchor(region)) // region.rotation


def _rotation_handovers(
    region: Region, start_at: datetime, end_at: datetime
) -> Iterator[datetime]:
    period = rotation_index(region, start_at) + 1
    while (at := _wall_naive(_anchor(region) + period * region.rotation, region.tz)) < end_at:
        yield at
        period += 1


def _wall_naive(local: datetime, tz: ZoneInfo) -> datetime:
    return _wall(local.date(), local.time(), tz)


def _scheduled(region: Region, level: Level, at: datetime) -> str | None:
    people = region.primary if level is Level.PRIMARY else region.secondary
    return people[rotation_index(region, at) % len(people)] if people else None


def _on_shift(rota: Rota, at: datetime) -> Region | None:
    """The region whose shift began last (the newcomer takes over); the first listed on ties."""
    started = [
        (begin, -position, region)
        for position, region in enumerate(rota.regions)
        for begin, finish in _shifts(region, at, at)
        if begin <= at < finish
    ]
    return max(started, key=lambda entry: entry[:2])[2] if started else None


# -- resolution -------------------------------------------------------------------------------


def _override(
    overrides: Iterable[Override], level: Level, region: Region | None, at: datetime
) -> Override | None:
    """The last listed override holding `level` at `at` for the region on shift, if any."""
    name = region.name if region else None
    matches = [
        o
        for o in overrides
        if o.level is level and o.from_at <= at < o.to_at and o.region in (None, name)
    ]
    return matches[-1] if matches else None


def _scheduled_holder(
    rota: Rota, region: Region | None, level: Level, at: datetime
) -> _Holder | None:
    """The lead at any time; otherwise the on-shift region's person in rotation (none in a gap)."""
    if level is Level.LEAD:
        return (rota.lead[0], None) if rota.lead else None
    person = _scheduled(region, level, at) if region else None
    return (person, region.name) if person and region else None


def _holders(rota: Rota, overrides: Sequence[Override], at: datetime) -> dict[Level, _Holder]:
    """Who holds each level at `at`: the schedule, with overrides on top (same region label)."""
    region = _on_shift(rota, at)
    holders: dict[Level, _Holder] = {}
    for level in Level:
        holder = _scheduled_holder(rota, region, level, at)
        if override := _override(overrides, level, region, at):
            label = region.name if region and level is not Level.LEAD else None
            holder = (override.user, label)
        if holder:
            holders[level] = holder
    return holders


def _change_points(
    rota: Rota, overrides: Sequence[Override], start_at: datetime, end_at: datetime
) -> list[datetime]:
    """Every instant in (start_at, end_at) at which a holder might change."""
    points = {at for o in overrides for at in (o.from_at, o.to_at)}
    for region in rota.regions:
        points.update(at for window in _shifts(region, start_at, end_at) for at in window)
        points.update(_rotation_handovers(region, start_at, end_at))
    return sorted(at for at in points if start_at < at < end_at)


def handovers(
    rota: Rota, overrides: Sequence[Override], start_at: datetime, days: float
) -> list[Handover]:
    """Each change of holder after `start_at` within `days`, by time, then in paging order."""
    return list(_changes(rota, overrides, start_at, start_at + days * DAY))


def _changes(
    rota: Rota, overrides: Sequence[Override], start_at: datetime, end_at: datetime
) -> Iterator[Handover]:
    current = _holders(rota, overrides, start_at)
    for at in _change_points(rota, overrides, start_at, end_at):
        holders = _holders(rota, overrides, at)
        for level in Level:
            if (holder := holders.get(level)) != current.get(level):
                person, region = holder or (None, None)
                yield Handover(at, region, level, person)
        current = holders


def who_is_on_call(rota: Rota, overrides: Sequence[Override], now: datetime) -> OnCall:
    """Who holds each level now, and until the next hand-over of that level."""
    holders = _holders(rota, overrides, now)
    until: dict[Level, datetime] = {}
    for change in _changes(rota, overrides, now, now + _horizon(rota, overrides, now)):
        until.setdefault(change.level, change.at)
        if until.keys() >= holders.keys():
            break
    return {
        level: Shift(person, region, until.get(level))
        for level, (person, region) in holders.items()
    }


def _horizon(rota: Rota, overrides: Sequence[Override], now: datetime) -> timedelta:
    """Far enough ahead to see every rotation turn once, and the end of every override."""
    longest = max((region.rotation for region in rota.regions), default=DAY)
    return max([longest + 2 * DAY, *(o.to_at - now + DAY for o in overrides)])


def coverage_gaps(rota: Rota, start_at: datetime, days: float) -> list[Gap]:
    """Intervals in [start_at, start_at + days) that no region's shift covers."""
    end_at = start_at + days * DAY
    windows = sorted(w for region in rota.regions for w in _shifts(region, start_at, end_at))
    gaps, covered_to = [], start_at
    for begin, finish in windows:
        if begin > covered_to:
            gaps.append(Gap(covered_to, begin))
        covered_to = max(covered_to, finish)
    if covered_to < end_at:
        gaps.append(Gap(covered_to, end_at))
    return gaps
