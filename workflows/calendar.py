"""Business-hours arithmetic in the requester's own time zone. Pure: no I/O, no clock.

Business time is the real time that passes inside the open windows, where a window is the
local wall-clock span `opens`-`closes` of a business day. Every instant this module returns
is in UTC: Python compares and subtracts two datetimes that share one tzinfo by wall time,
which is wrong across a DST change, so callers localise only for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: frozenset[int] = frozenset(range(5))  # Monday=0 .. Friday=4, as date.weekday()
_DAY = timedelta(days=1)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Open `opens`-`closes` local wall time on `days` (Monday=0), except on `holidays`."""

    tz: ZoneInfo = ZoneInfo("UTC")
    opens: time = time(9)
    closes: time = time(17)
    days: frozenset[int] = WEEKDAYS
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("opening hours are local wall times: give them without a tzinfo")
        if not self.opens < self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"days must be a non-empty set of weekdays 0-6, got {set(self.days)}")

    def in_zone(self, tz: ZoneInfo) -> BusinessCalendar:
        """The same hours, days and holidays, counted in another requester's zone."""
        return replace(self, tz=tz)

    def is_business_day(self, day: date) -> bool:
        """A listed weekday that is not a holiday."""
        return day.weekday() in self.days and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants at which `day` opens and closes, business day or not."""
        return _instant(day, self.opens, self.tz), _instant(day, self.closes, self.tz)

    def is_open(self, at: datetime) -> bool:
        """Inside an open window; the closing instant itself still counts as open."""
        at = to_utc(at)
        return any(o <= at <= c for o, c in takewhile(lambda w: w[0] <= at, self._windows(at)))

    def add(self, start_at: datetime, budget: timedelta) -> datetime:
        """The earliest instant by which `budget` of business time has passed since `start_at`."""
        if budget < _ZERO:
            raise ValueError(f"budget must not be negative, got {budget}")
        start_at, remaining = to_utc(start_at), budget
        for opens_at, closes_at in self._windows(start_at):
            begin_at = max(opens_at, start_at)
            if begin_at > closes_at:
                continue
            if remaining <= closes_at - begin_at:
                return begin_at + remaining
            remaining -= closes_at - begin_at
        raise AssertionError("unreachable: the windows never run out")  # pragma: no cover

    def elapsed(self, start_at: datetime, end_at: datetime) -> timedelta:
        """Business time between two instants; zero when `end_at` is not after `start_at`."""
        start_at, end_at, total = to_utc(start_at), to_utc(end_at), _ZERO
        for opens_at, closes_at in self._windows(start_at):
            if opens_at >= end_at:
                break
            overlap = min(closes_at, end_at) - max(opens_at, start_at)
            total += max(overlap, _ZERO)
        return total

    def next_business_day_end(self, at: datetime) -> datetime:
        """Closing time of the first business day after the local date of `at`."""
        day = to_utc(at).astimezone(self.tz).date() + _DAY
        while not self.is_business_day(day):
            day += _DAY
        return self.window(day)[1]

    def _windows(self, start_at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business windows in order, from the day before `start_at`'s local date, for ever."""
        day = to_utc(start_at).astimezone(self.tz).date() - _DAY
        while True:
            if self.is_business_day(day):
                yield self.window(day)
            day += _DAY


def business_calendar(
    tz: ZoneInfo | str = "UTC",
    *,
    opens: str = "09:00",
    closes: str = "17:00",
    days: Iterable[int] = WEEKDAYS,
    holidays: Iterable[str | date] = (),
) -> BusinessCalendar:
    """Build a calendar from configuration values: zone name, "HH:MM" hours, ISO holiday dates."""
    return BusinessCalendar(
        tz=tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz),
        opens=time.fromisoformat(opens),
        closes=time.fromisoformat(closes),
        days=frozenset(days),
        holidays=frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays),
    )


def zone_from_profile(tz_dict: Mapping[str, Any] | None, fallback: str) -> ZoneInfo:
    """The zone a Mattermost profile shows (automatic or manual); bad or empty: `fallback`."""
    profile = tz_dict or {}
    automatic = str(profile.get("useAutomaticTimezone", "")).strip().lower() == "true"
    name = profile.get("automaticTimezone" if automatic else "manualTimezone")
    return _zone(name) or ZoneInfo(fallback)


def _zone(name: object) -> ZoneInfo | None:
    """The named IANA zone, or None when the name is empty or unknown."""
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path-like or malformed key
        return None


def _instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; a time skipped by DST maps to after the gap."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def to_utc(at: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused, having no place on a calendar."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {at!r}")
    return at.astimezone(UTC)
