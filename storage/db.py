"""Database URLs, the async engine and the session factory."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

log = logging.getLogger(__name__)

# Config files name the database, not the driver; we pick the asyncio driver for each backend.
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_ALIASES = {"postgres": "postgresql"}  # the spelling Heroku and libpq-style tools use
SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(url: str, base_dir: Path | None = None) -> str:
    """Give a config URL its asyncio driver and, for SQLite, an absolute file path.

    `sqlite:///supportbot.db` -> `sqlite+aiosqlite:////abs/base_dir/supportbot.db`;
    `postgresql://user@host/db` -> `postgresql+asyncpg://user@host/db`. A URL that already
    names a driver keeps it. Relative SQLite paths are relative to `base_dir` (the config
    file's folder), or to the working directory when it is None.
    """
    parsed = make_url(url)
    backend = _ALIASES.get(parsed.get_backend_name(), parsed.get_backend_name())
    if "+" not in parsed.drivername and backend in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[backend])
    if backend == "sqlite":
        parsed = _absolute_sqlite_path(parsed, base_dir)
    return parsed.render_as_string(hide_password=False)


def _absolute_sqlite_path(url: URL, base_dir: Path | None) -> URL:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return url.set(database=str(path.resolve()))


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_memory_sqlite(url: str | URL) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for a normalised URL (a driverless URL is normalised against the cwd).

    SQLite connections get foreign keys on, WAL journaling and a busy timeout, so several
    connections (and the odd second process) wait for each other instead of failing.
    """
    if "+" not in make_url(url).drivername:
        url = normalise_url(url)
    if is_sqlite(url):
        engine = _create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(memory=is_memory_sqlite(url)))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return _create_async_engine(url, **kwargs)


def _sqlite_pragmas(*, memory: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:  # an in-memory database has no journal file to put in WAL mode
                _use_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL
        finally:
            cursor.close()

    return on_connect


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so for every later connection).

    The switch needs the database to itself and does not wait on busy_timeout, so while another
    connection holds a lock (say, a concurrent first-start migration) we leave it to the next one.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        log.debug("journal_mode=WAL deferred to a later connection: %s", exc)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Domain objects are built from rows before commit; nothing should lazy-load afterwards.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine, within_s: float = 5.0) -> bool:
    """True when the database answers `SELECT 1` within `within_s` seconds (health checks)."""
    try:
        async with asyncio.timeout(within_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # a health check reports, it never raises
        log.warning("database ping failed: %s", exc)
        return False
    return True
