"""Fixtures for the security tests: a running desk (emulator + bot) and an attacker's raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from tests.wire.harness import Desk, running_desk


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path, security=UNLIMITED) as d:  # rate limits have own tests
        yield d


@pytest_asyncio.fixture
async def bare_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The test starts the bot itself (e.g. with tighter [security] limits)."""
    async with running_desk(tmp_path, start=False) as d:
        yield d


UNLIMITED = {"intake_per_hour": 0, "commands_per_minute": 0}

Raw = Callable[..., Awaitable[tuple[int, Any]]]


@pytest_asyncio.fixture
async def raw(desk: Desk) -> AsyncIterator[Raw]:
    """POST straight to the bot, as anyone on the network (or any logged-in user) can."""
    async with aiohttp.ClientSession() as session:

        async def send(path: str, *, json: Any = None, data: Any = None,
                       headers: dict[str, str] | None = None) -> tuple[int, Any]:
            url = f"http://127.0.0.1:{desk.port}{path}"
            async with session.post(url, json=json, data=data, headers=headers) as resp:
                body = await resp.read()
                try:
                    import json as _json

                    return resp.status, _json.loads(body) if body.strip() else {}
                except ValueError:
                    return resp.status, body.decode(errors="replace")

        yield send
