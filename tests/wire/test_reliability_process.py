"""Reliability (issue 8): SQLite refuses a second bot process; a stop is graceful and bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.app import SupportBot
from bot.startup import StartupError
from tests.reliability.helpers import POSTS, card_counts, submit
from tests.wire.harness import Desk, free_port
from tests.wire.test_admin_cli import write_config
from tests.wire.workflow_helpers import all_tickets


async def test_a_second_bot_on_the_same_sqlite_file_stops_at_start_up(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot()
    second_port = free_port()
    second = SupportBot(desk.settings(server={"port": second_port,
                                              "public_url": f"http://127.0.0.1:{second_port}"}),
                        clock=desk.clock)
    second.run_scheduler = False
    path = Path(desk.db_url.removeprefix("sqlite:///")).resolve()
    try:
        with pytest.raises(StartupError) as refused:
            await second.start()
    finally:
        await second.stop()
    assert str(refused.value) == (
        f"database.url: another supportbot process is using {path}; SQLite supports one "
        "process — use PostgreSQL for replicas")
    assert second.deps is None  # it stopped before touching the database or Mattermost
    # the first bot is unaffected, and once it stops the file is free for the next one
    await submit(desk, "alice", "Still working")
    await desk.settle()
    assert len(await all_tickets(desk)) == 1
    await desk.stop_bot()
    await desk.start_bot()
    assert len(await all_tickets(desk)) == 1


async def test_stop_finishes_in_flight_work_and_closes_the_websocket_with_1000(desk: Desk) -> None:
    assert desk.bot is not None
    sockets = list(desk.emu.hub.all_sockets)
    assert len(sockets) == 1
    desk.emu.faults.delay(POSTS, 0.5, method="POST")  # the announcement is still being posted
    answer = await submit(desk, "alice", "Stop gracefully")
    assert answer.body in ({}, None) and desk.bot.background.tasks
    started = time.monotonic()
    await desk.stop_bot()
    took = time.monotonic() - started
    desk.emu.faults.clear()
    assert took < 10, took  # bounded
    assert len(card_counts(desk)) == 1  # the in-flight announcement was finished, not dropped
    await desk.wait_for(lambda: sockets[0].ws.closed)
    assert sockets[0].ws.close_code == 1000  # a close frame, not a dropped connection


async def test_sigterm_stops_supportbot_run_gracefully(bare_desk: Desk, tmp_path: Path) -> None:
    desk = bare_desk
    config = write_config(desk, tmp_path / "bot.toml")
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        async with aiohttp.ClientSession() as http:
            async def ready() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{desk.port}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await desk.wait_for(ready, timeout=30)
        await desk.wait_for(lambda: any(c.user_id for c in desk.emu.hub.conns), timeout=10)
        sockets = list(desk.emu.hub.all_sockets)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=20)
        took = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert code == 0, stderr
    assert took < 15
    await desk.wait_for(lambda: all(c.ws.closed for c in sockets))
    assert [c.ws.close_code for c in sockets] == [1000]
