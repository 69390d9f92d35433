"""Reliability (issue 8): one bot process per SQLite database.

SQLite serialises writers but the bot keeps state in memory too (rate-limit buckets, the
websocket's last seen post) and its scheduled jobs are not leased across processes, so a second
bot on the same file would double pages and summaries. The first bot holds an exclusive
`flock` on `<database>.lock` while it runs; a second one stops at start-up with one clear line.
The OS drops the lock when the process dies (kill -9 included), so a stale file never blocks.
Admin commands (migrate, export, import, check-config) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from bot.startup import StartupError


def sqlite_path(url: str) -> Path | None:
    """The database file of a (normalised) SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class SqliteLock:
    """The exclusive lock on `<db>.lock`; `release()` is idempotent."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            finally:
                handle.close()


def acquire(url: str) -> SqliteLock | None:
    """Take the lock for a SQLite URL (None for other databases); StartupError if it is held."""
    path = sqlite_path(url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held while running
    except OSError as exc:
        raise StartupError(f"database.url: cannot create the lock file {lock_path}: "
                           f"{exc.strerror or exc}") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StartupError(
            f"database.url: another supportbot process is using {path}; SQLite supports one "
            "process — use PostgreSQL for replicas") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # for the operator; the lock itself is what counts
    handle.flush()
    return SqliteLock(path, handle)
