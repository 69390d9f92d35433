"""SQLite through SQLAlchemy's aiosqlite dialect, executed in the event loop's own thread.

aiosqlite runs each connection in a thread and hands every call over a queue: cursor(),
execute(), fetchall() and close() are four round trips per statement, each a thread wake-up, a
GIL hand-over and a loop wake-up through its self-pipe. On the intake path that hand-over cost
more than the SQL (issue 10: ~20% of the bot's CPU in aiosqlite and the loop's wake-ups, while
SQLite itself answers a keyed statement in microseconds from the page cache).

This module gives the dialect an aiosqlite-shaped connection whose coroutines run the sqlite3
call at once and never suspend, so a statement costs what sqlite3 costs. What that trades:
a statement blocks the loop while it runs. That is fine for this database's work (keyed reads
and writes; the heaviest, the daily summary at 1M tickets, takes ~30 ms), and writers of this
process never wait inside SQLite, since they take turns in `db.WriterQueue` before writing.
Another *process* holding the write lock (a backup tool, sqlite3 at a prompt) would make a
writer wait inside SQLite's busy handler, blocking the loop, so inline connections wait at
most `BUSY_TIMEOUT_MS` there and then fail with "database is locked" (answered "try again").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

BUSY_TIMEOUT_MS = 250


class _Queue:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's isolation-level setter uses
    directly: the function runs now and its result settles the future."""

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The part of `aiosqlite.Connection` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._tx = _Queue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await InlineCursor(self._conn.cursor()).execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        """Terminate (SQLAlchemy's hard close): nothing runs elsewhere, so just close."""
        self._conn.close()


def creator(path: str) -> Callable[[], Awaitable[InlineConnection]]:
    """`async_creator` for `create_async_engine`: inline connections to the file at `path`."""

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     check_same_thread=False)
        return InlineConnection(connection)

    return connect
