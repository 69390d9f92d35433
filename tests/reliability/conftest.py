"""Reliability (issue 8): a running desk without rate limits (the fault tests open many tickets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.reliability.helpers import UNLIMITED
from tests.wire.harness import Desk, running_desk


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path, security=UNLIMITED) as d:
        yield d


@pytest_asyncio.fixture
async def bare_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path, start=False) as d:
        yield d
