"""The explicit dependency bundle every use case receives, built once in bot/app.py."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from commands.directory import Directory
from commands.ports import ChatGateway, UnitOfWork
from commands.signing import Signer
from workflows.model import Customer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Desk:
    """Facts resolved at start-up: who the bot is and where things go."""

    bot_user_id: str
    team_id: str
    team_name: str
    support_channel_id: str
    standup_channel_id: str
    engineering_channel_id: str
    public_url: str
    customers: tuple[Customer, ...] = ()

    @property
    def dialog_url(self) -> str:
        return f"{self.public_url}/mattermost/dialog"

    @property
    def action_url(self) -> str:
        return f"{self.public_url}/mattermost/action"


@dataclass(frozen=True, slots=True)
class DeskPolicy:
    """The team's workflow settings ([workflow] and [csat] in bot.toml)."""

    reply_prefix: str = "!reply"
    solved_close_after: timedelta = timedelta(hours=48)
    csat_send_after: timedelta = timedelta(hours=24)
    csat_after_status: str = "solved"  # or "closed"
    max_relay_files: int = 10
    max_relay_bytes: int = 50 * 1024 * 1024


@dataclass(slots=True)
class Background:
    """Work that runs after the HTTP answer; every task is kept until done and its errors logged."""

    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for in-flight work (graceful stop and tests)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)


@dataclass(frozen=True, slots=True)
class Deps:
    gateway: ChatGateway
    uow: Callable[[], UnitOfWork]
    clock: Callable[[], datetime]
    desk: Desk
    signer: Signer
    background: Background
    directory: Directory
    policy: DeskPolicy = field(default_factory=lambda: DeskPolicy())
    # Feature settings and services, built in bot/app.py (None when a feature is not wired).
    sla: Any = None
    oncall: Any = None
    escalation: Any = None
    summary: Any = None
    # security (issue 9): commands.ratelimit.Limits; None = no rate limits (unit tests)
    limits: Any = None
    # reliability (issue 8): who holds outbox leases (one per bot, so replicas tell theirs apart)
    instance: str = field(default_factory=lambda: instance_id())


def instance_id() -> str:
    """This process (and bot) among replicas: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
