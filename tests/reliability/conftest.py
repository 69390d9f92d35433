"""Reliability (issue 8): a running desk without rate limits (the fault tests open many tickets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.reliability.helpers import UNLIMITED
from tests.wire.harness import Desk, seeded_desk


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    d = await seeded_desk(f"sqlite:///{tmp_path / 'desk.db'}")
    await d.start_bot(security=UNLIMITED)
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()


@pytest_asyncio.fixture
async def bare_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    d = await seeded_desk(f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()
