"""The on-call service in Deps (`deps.oncall`): the configured rota and paging policy, the
optional webhook, and who is on call now (cached for the authorisation check)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commands.deps import Deps
from commands.ports import ChatGateway, Webhook
from workflows.oncall import (
    OnCall,
    PagingPolicy,
    Rota,
    StoredOverride,
    coverage_gaps,
    who_is_on_call,
)

log = logging.getLogger(__name__)

GAP_LOOKAHEAD_DAYS = 7
USER_CACHE_FOR = timedelta(minutes=10)


@dataclass
class OncallService:
    """Built once in bot/app.py from [oncall]; `enabled` is False when no region is configured."""

    rota: Rota
    policy: PagingPolicy
    mattermost_url: str = ""  # for permalinks to the ticket card
    webhook: Webhook | None = None
    routing_key: str = ""
    current_ids: frozenset[str] = frozenset()  # user ids on call now, refreshed by every check
    _users: dict[str, tuple[datetime, dict[str, Any] | None]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.rota.regions)

    def oncall_ids(self) -> frozenset[str]:
        """For Directory.oncall_ids: a sync read of the last refresh."""
        return self.current_ids

    def permalink(self, team_name: str, post_id: str) -> str:
        return f"{self.mattermost_url.rstrip('/')}/{team_name}/pl/{post_id}"

    async def user(
        self, gateway: ChatGateway, username: str, now: datetime
    ) -> dict[str, Any] | None:
        """A user by username, cached briefly (the rota names people by username)."""
        cached = self._users.get(username)
        if cached is not None and now - cached[0] < USER_CACHE_FOR and now >= cached[0]:
            return cached[1]
        found = await gateway.get_user_by_username(username)
        self._users[username] = (now, found)
        return found


async def overrides(deps: Deps, now: datetime) -> list[StoredOverride]:
    async with deps.uow() as uow:
        return await uow.oncall.overrides(ending_after=now)


async def on_call_now(deps: Deps, now: datetime) -> tuple[OnCall, list[StoredOverride]]:
    """Who holds each level now (overrides applied), and refresh the cached ids."""
    service: OncallService = deps.oncall
    stored = await overrides(deps, now)
    on_call = who_is_on_call(service.rota, [o.to_rota() for o in stored], now)
    ids = set()
    for shift in on_call.values():
        user = await service.user(deps.gateway, shift.person, now)
        if user:
            ids.add(str(user["id"]))
    service.current_ids = frozenset(ids)
    return on_call, stored


def startup_warnings(service: OncallService, now: datetime) -> list[str]:
    """Configuration warnings worth a log line at start-up: gaps in cover, missing levels."""
    if not service.enabled:
        return []
    warnings = [
        f"on-call: no region covers {gap.start_at:%a %d %b %H:%M}–{gap.end_at:%a %d %b %H:%M} UTC"
        for gap in coverage_gaps(service.rota, now, GAP_LOOKAHEAD_DAYS)
    ]
    if not service.rota.lead:
        warnings.append("on-call: oncall.lead is empty, so the chain has no last level")
    return warnings


def user_zone(user: dict[str, Any] | None) -> ZoneInfo:
    """The user's Mattermost profile time zone (automatic or manual); UTC when unset."""
    tz = (user or {}).get("timezone") or {}
    automatic = str(tz.get("useAutomaticTimezone", "true")).lower() == "true"
    name = str(tz.get("automaticTimezone" if automatic else "manualTimezone") or "")
    name = name or str(tz.get("manualTimezone") or tz.get("automaticTimezone") or "")
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
