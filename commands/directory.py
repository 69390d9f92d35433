"""Who is who: staff, SET members and desk admins, from config or from channel membership.

Membership is read from Mattermost and cached briefly, so adding someone to ~Customer Support
makes them staff within a minute without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from commands.ports import ChatGateway
from workflows.model import Ticket
from workflows.permissions import Role, roles_for

CACHE_FOR = timedelta(seconds=60)


@dataclass
class Group:
    """A set of user ids: fixed usernames from config, or a channel's members (minus the bot)."""

    usernames: Sequence[str] = ()
    channel_id: str = ""
    _ids: frozenset[str] = frozenset()
    _read_at: datetime | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def ids(self, gateway: ChatGateway, bot_id: str, now: datetime) -> frozenset[str]:
        async with self._lock:
            if self._read_at is None or now - self._read_at >= CACHE_FOR or now < self._read_at:
                self._ids = await self._read(gateway, bot_id)
                self._read_at = now
            return self._ids

    async def _read(self, gateway: ChatGateway, bot_id: str) -> frozenset[str]:
        if self.usernames:
            found = [await gateway.get_user_by_username(u.lstrip("@")) for u in self.usernames]
            return frozenset(u["id"] for u in found if u)
        if not self.channel_id:
            return frozenset()
        return frozenset(await gateway.channel_member_ids(self.channel_id)) - {bot_id}


@dataclass
class Directory:
    gateway: ChatGateway
    bot_id: str
    clock: Callable[[], datetime]
    staff: Group
    sustained: Group
    admins: Group
    oncall_ids: Callable[[], frozenset[str]] = lambda: frozenset()

    async def staff_ids(self) -> frozenset[str]:
        return await self.staff.ids(self.gateway, self.bot_id, self.clock())

    async def is_staff(self, user_id: str) -> bool:
        return user_id in await self.staff_ids()

    async def roles(self, user_id: str, ticket: Ticket | None) -> frozenset[Role]:
        now = self.clock()
        admins = await self.admins.ids(self.gateway, self.bot_id, now)
        return roles_for(
            user_id, ticket,
            staff_ids=await self.staff.ids(self.gateway, self.bot_id, now) | admins,
            set_ids=await self.sustained.ids(self.gateway, self.bot_id, now),
            oncall_ids=self.oncall_ids(),
            admin_ids=admins,
        )
