"""Reliability (issue 8): the SQLite one-process lock (bot/dblock.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import dblock
from bot.startup import StartupError


def test_only_file_backed_sqlite_is_locked(tmp_path: Path) -> None:
    assert dblock.acquire("postgresql+asyncpg://u@db/desk") is None
    assert dblock.acquire("sqlite+aiosqlite:///:memory:") is None
    assert dblock.sqlite_path(f"sqlite+aiosqlite:///{tmp_path}/d.db") == tmp_path / "d.db"


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/desk.db"
    first = dblock.acquire(url)
    assert first is not None and (tmp_path / "desk.db.lock").exists()
    with pytest.raises(StartupError, match=r"another supportbot process is using .*desk\.db; "
                                           r"SQLite supports one process — use PostgreSQL"):
        dblock.acquire(url)
    first.release()
    first.release()  # idempotent
    again = dblock.acquire(url)
    assert again is not None
    again.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/desk.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bot import dblock; "
         f"held = dblock.acquire({url!r}); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StartupError):
            dblock.acquire(url)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    deadline = time.monotonic() + 5
    while True:
        try:
            lock = dblock.acquire(url)
            break
        except StartupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert lock is not None
    lock.release()
