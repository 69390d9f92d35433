from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.wire.harness import Desk, running_desk


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The emulator with a seeded team and the bot started against it."""
    async with running_desk(tmp_path) as d:
        yield d


@pytest_asyncio.fixture
async def bare_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The emulator and a seeded team; the test starts (and may restart) the bot itself."""
    async with running_desk(tmp_path, start=False) as d:
        yield d
