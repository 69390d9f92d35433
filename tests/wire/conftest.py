from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.wire.harness import Desk, seeded_desk


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The emulator with a seeded team and the bot started against it."""
    d = await seeded_desk(f"sqlite:///{tmp_path / 'desk.db'}")
    await d.start_bot()
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()


@pytest_asyncio.fixture
async def bare_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The emulator and a seeded team; the test starts (and may restart) the bot itself."""
    d = await seeded_desk(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()
