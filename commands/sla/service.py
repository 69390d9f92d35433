"""The SLA settings object in `deps.sla`, and the hook that keeps `next_deadline_at` right.

Every funnel that changes a ticket's event log (commands/tickets.py `change`/`record`, intake)
calls `track`, inside its own unit of work, so the stored deadline always matches the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.ports import ChatGateway, UnitOfWork
from workflows import sla_watch
from workflows.calendar import BusinessCalendar, zone_from_profile
from workflows.sla import SlaPolicy, SlaReport, evaluate
from workflows.model import Ticket, TicketEvent

log = logging.getLogger(__name__)

ZONE_KIND = "sla_zone"  # claims record: ticket id -> requester's IANA zone name at intake
ZONE_CACHE_FOR = timedelta(minutes=10)
ZONE_CALENDARS = 1000  # calendars kept per zone name (IANA has ~600 names)


@dataclass
class SlaDesk:
    """Policy, the business calendar (fallback zone) and a short per-user zone cache."""

    policy: SlaPolicy
    calendar: BusinessCalendar
    fallback_timezone: str = "UTC"
    check_interval: timedelta = timedelta(minutes=1)
    batch: int = 500
    _zones: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    # zone name -> (the calendar it was made from, that calendar in the zone): the check asks for
    # one per due ticket, and a calendar's `in_zone` copy is not free
    _calendars: dict[str, tuple[BusinessCalendar, BusinessCalendar]] = field(default_factory=dict)

    def zone_name(self, profile: dict[str, Any] | None) -> str:
        """The requester's zone from their Mattermost profile (automatic or manual)."""
        return zone_from_profile((profile or {}).get("timezone"), self.fallback_timezone).key

    def calendar_for(self, zone: str | None) -> BusinessCalendar:
        if not zone:
            return self.calendar
        hit = self._calendars.get(zone)
        if hit is not None and hit[0] is self.calendar:
            return hit[1]
        try:
            found = self.calendar.in_zone(ZoneInfo(zone))
        except (ValueError, KeyError):  # a stored name this system no longer knows
            found = self.calendar
        if len(self._calendars) >= ZONE_CALENDARS:
            self._calendars.clear()
        self._calendars[zone] = (self.calendar, found)
        return found

    def report(self, ticket: Ticket, events: Sequence[TicketEvent], zone: str | None,
               now: datetime) -> SlaReport:
        return evaluate(ticket, events, self.policy, self.calendar_for(zone), now)

    async def user_zone(self, gateway: ChatGateway, user_id: str, now: datetime) -> str:
        """Zone of a requester whose ticket has none stored (tickets older than this feature)."""
        hit = self._zones.get(user_id)
        if hit and timedelta(0) <= now - hit[0] < ZONE_CACHE_FOR:
            return hit[1]
        try:
            zone = self.zone_name(await gateway.get_user(user_id))
        except Exception as exc:  # noqa: BLE001 - any lookup failure: count in the fallback zone
            log.warning("time zone of %s unknown (%s); using %s", user_id, exc,
                        self.fallback_timezone)
            zone = self.fallback_timezone
        self._zones[user_id] = (now, zone)
        return zone

    async def zone_of(self, uow: UnitOfWork, gateway: ChatGateway, ticket: Ticket,
                      now: datetime) -> str:
        assert ticket.id is not None
        stored = (await uow.sla.zones([ticket.id])).get(ticket.id)
        return stored or await self.user_zone(gateway, ticket.requester.user_id, now)

    async def track(self, uow: UnitOfWork, gateway: ChatGateway, ticket: Ticket,
                    unsaved: Sequence[TicketEvent], now: datetime) -> Ticket:
        """The ticket with `next_deadline_at` recomputed from its stored log plus `unsaved`."""
        assert ticket.id is not None
        events = [*await uow.events.for_ticket(ticket.id), *unsaved]
        return self.tracked(ticket, events, await self.zone_of(uow, gateway, ticket, now), now)

    def tracked(self, ticket: Ticket, events: Sequence[TicketEvent], zone: str | None,
                now: datetime) -> Ticket:
        """The ticket with `next_deadline_at` recomputed from its whole log `events`."""
        report = self.report(ticket, events, zone, now)
        return replace(ticket, next_deadline_at=sla_watch.watch_at(report, sla_watch.sent(events)))


