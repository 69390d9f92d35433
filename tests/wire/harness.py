"""A running desk for wire tests: the emulator, a seeded team, and the bot talking to it over sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import SupportBot
from bot.config import Settings
from emulator import Emulator

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeClock:
    """The bot's injected clock: tests move time instead of sleeping."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    emu: Emulator
    db_url: str
    clock: FakeClock = field(default_factory=FakeClock)
    bot: SupportBot | None = None
    users: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    port: int = 0
    team: Any = None

    def settings(self, **overrides: Any) -> Settings:
        data: dict[str, Any] = {
            "mattermost": {"url": self.emu.url, "token": self.token, "team": "main"},
            "server": {"host": "127.0.0.1", "port": self.port,
                       "public_url": f"http://127.0.0.1:{self.port}"},
            "database": {"url": self.db_url},
            "customers": [
                {"name": "Acme Corp", "plan": "premium", "email_domains": ["acme.com"]},
                {"name": "Globex", "plan": "enterprise", "usernames": ["gina"]},
            ],
        }
        for key, value in overrides.items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        return Settings.model_validate({**data, "config_dir": Path(".")})

    async def start_bot(self, **overrides: Any) -> SupportBot:
        self.bot = SupportBot(self.settings(**overrides), clock=self.clock)
        self.bot.run_scheduler = False  # tests run jobs explicitly, after moving the clock
        await self.bot.start()
        await self.settle()
        return self.bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None

    @property
    def support(self) -> Any:
        return self.channels["customer-support"]

    async def run(self, user: str, command: str, channel: str = "town-square") -> Any:
        return await self.emu.execute_command(self.users[user], self.channels[channel].id, command)

    async def settle(self) -> None:
        """Wait until the bot has finished the work it started after answering."""
        assert self.bot is not None
        for _ in range(3):
            await self.bot.background.drain()
            await asyncio.sleep(0.01)

    async def run_jobs(self) -> dict[str, int]:
        assert self.bot is not None and self.bot.jobs is not None
        done = await self.bot.jobs.run_all()
        await self.settle()
        return done

    def user(self, name: str) -> Any:
        return self.users[name]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll a condition (plain or async) until it holds; fail the test after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.02)


async def seeded_desk(db_url: str) -> Desk:
    emu = Emulator(host="127.0.0.1", port=0)
    await emu.start()
    desk = Desk(emu=emu, db_url=db_url, port=free_port())
    team = desk.team = emu.create_team("main", display_name="Main")
    bot, desk.token = emu.create_bot("supportbot", team=team, team_admin=True)
    users = {
        "alice": emu.create_user("alice", email="alice@acme.com", first_name="Alice", last_name="Smith"),
        "carol": emu.create_user("carol", email="carol@acme.com"),
        "dave": emu.create_user("dave", email="dave@example.org"),
        "gina": emu.create_user("gina", email="gina@globex.test"),
        "sam": emu.create_user("sam", email="sam@vendor.test", first_name="Sam"),
        "tess": emu.create_user("tess", email="tess@vendor.test"),
    }
    for user in users.values():
        emu.add_team_member(team, user)
    users["supportbot"] = bot
    staff = [bot, users["sam"], users["tess"]]
    desk.channels = {
        "town-square": emu.create_channel(team, "town-square", members=list(users.values())),
        "customer-support": emu.create_channel(team, "customer-support", members=staff),
        "support-standup": emu.create_channel(team, "support-standup", members=staff),
        "sustained-engineering": emu.create_channel(team, "sustained-engineering", members=[bot]),
    }
    desk.users = users
    return desk


@asynccontextmanager
async def running_desk(folder: Path, *, start: bool = True, **overrides: Any) -> AsyncIterator[Desk]:
    """A seeded emulator (and, with `start`, the bot started with these setting overrides)."""
    desk = await seeded_desk(f"sqlite:///{folder / 'desk.db'}")
    try:
        if start:
            await desk.start_bot(**overrides)
        yield desk
    finally:
        await desk.stop_bot()
        await desk.emu.stop()
