"""Turning `[sla]` configuration values into an SlaPolicy and a BusinessCalendar. Pure: no I/O.

A `[[sla.targets]]` entry replaces only the cells it names: a metric key left out keeps the
support-forms default, "none" removes the cell (no target), "next_business_day" is the
Enterprise Low first-reply rule, anything else is a duration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

from workflows.calendar import BusinessCalendar, business_calendar
from workflows.model import Plan, Priority
from workflows.sla import DEFAULT_TARGETS, Clock, Metric, SlaPolicy, Target, TargetKey
from workflows.text import parse_duration

DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEXT_BUSINESS_DAY: Final = "next_business_day"
NO_TARGET: Final = frozenset({"none", "off", ""})


@dataclass(frozen=True, slots=True)
class TargetOverride:
    """One `[[sla.targets]]` entry: raw cell values per metric (None: keep the default)."""

    plan: Plan
    priority: Priority
    cells: Mapping[Metric, str | None]
    clock: Clock | None = None


def parse_cell(value: str, clock: Clock) -> Target | None:
    """A cell's text as a Target; None for "none"; ValueError for anything unreadable."""
    word = value.strip().lower()
    if word in NO_TARGET:
        return None
    if word == NEXT_BUSINESS_DAY:
        return Target(None, Clock.BUSINESS, next_business_day=True)
    return Target(parse_duration(word), clock)


def build_targets(overrides: Iterable[TargetOverride]) -> Mapping[TargetKey, Target]:
    """The default table with each override's named cells replaced (or removed)."""
    table = dict(DEFAULT_TARGETS)
    for o in overrides:
        for metric, raw in o.cells.items():
            key = (o.plan, o.priority, metric)
            default = DEFAULT_TARGETS.get(key)
            if raw is None:
                if o.clock is not None and default is not None and default.budget is not None:
                    table[key] = Target(default.budget, o.clock)
                continue
            target = parse_cell(raw, o.clock or (default.clock if default else Clock.BUSINESS))
            if target is None:
                table.pop(key, None)
            else:
                table[key] = target
    return MappingProxyType(table)


def build_policy(overrides: Iterable[TargetOverride], warn_at: float) -> SlaPolicy:
    """The SLA policy the desk runs on."""
    return SlaPolicy(targets=build_targets(overrides), warn_at=warn_at)


def parse_hours(text: str) -> tuple[str, str]:
    """ "09:00-17:00" -> ("09:00", "17:00"); ValueError unless opens < closes."""
    opens, sep, closes = text.replace(" ", "").partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not an opening span like 09:00-17:00")
    business_calendar(opens=opens, closes=closes)  # validates both times and their order
    return opens, closes


def parse_days(names: Iterable[str]) -> frozenset[int]:
    """["mon", "tue", ...] -> {0, 1, ...}; ValueError naming an unknown day."""
    days = set()
    for name in names:
        word = name.strip().lower()[:3]
        if word not in DAY_NAMES:
            raise ValueError(f"{name!r} is not a weekday (use mon, tue, wed, thu, fri, sat, sun)")
        days.add(DAY_NAMES.index(word))
    if not days:
        raise ValueError("at least one business day is needed")
    return frozenset(days)


def base_calendar(
    hours: str, days: Iterable[str], holidays: Iterable[date], zone: str = "UTC"
) -> BusinessCalendar:
    """The business calendar in `zone`; each requester gets it `in_zone` of their profile."""
    opens, closes = parse_hours(hours)
    return business_calendar(
        zone, opens=opens, closes=closes, days=parse_days(days), holidays=list(holidays)
    )


def budget_text(target: Target) -> str:
    """A target for people: "1h", "24h business", "next business day"."""
    if target.next_business_day or target.budget is None:
        return "next business day"
    hours = target.budget / timedelta(hours=1)
    amount = f"{hours:g}h" if hours < 48 or hours % 24 else f"{hours / 24:g}d"
    return amount + (" business" if target.clock is Clock.BUSINESS else "")
