"""Database URLs, the async engine and the session factory."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.util import await_only
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from storage import sqlite_inline

log = logging.getLogger(__name__)

# Config files name the database, not the driver; we pick the asyncio driver for each backend.
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_ALIASES = {"postgres": "postgresql"}  # the spelling Heroku and libpq-style tools use
SQLITE_BUSY_TIMEOUT_MS = 5000
# memory (issue 10): SQLite connections in this process. Writers take turns (WriterQueue) and
# statements run on the loop (sqlite_inline), so more connections add no throughput, only their
# page and statement caches: SQLAlchemy's default 5 + 10 overflow held 15 open at 100 concurrent
# intakes; 3 + 5 cut the bot's peak RSS by ~4 MiB at the same tickets/s. A burst beyond 8 waits
# for a connection (pool_timeout, 30 s) instead of opening more.
SQLITE_POOL_SIZE = 3
SQLITE_MAX_OVERFLOW = 5


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


def create_engine(url: str, *, inline: bool = True, **kwargs: Any) -> AsyncEngine:
    """An async engine for a normalised URL (a driverless URL is normalised against the cwd).

    SQLite connections get foreign keys on, WAL journaling and a busy timeout, so several
    connections (and the odd second process) wait for each other instead of failing.
    """
    if "+" not in make_url(url).drivername:
        url = normalise_url(url)
    if is_sqlite(url):
        memory = is_memory_sqlite(url)
        busy_ms = SQLITE_BUSY_TIMEOUT_MS
        if not memory and inline:  # issue 10: no thread hand-over per call (sqlite_inline.py)
            kwargs.setdefault("async_creator", sqlite_inline.creator(make_url(url).database or ""))
            busy_ms = sqlite_inline.BUSY_TIMEOUT_MS
        if not memory and "poolclass" not in kwargs and "pool" not in kwargs:  # memory (issue 10)
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", SQLITE_MAX_OVERFLOW)
        engine = _create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(memory=memory, busy_ms=busy_ms))
        if not is_memory_sqlite(url):  # reliability (issue 8): writers queue instead of racing
            _queue_writes(engine, writer_queue(make_url(url).database or ""))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = _create_async_engine(url, **kwargs)
    if make_url(url).get_backend_name() == "postgresql":  # reliability (issue 8)
        event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    return engine


def _sqlite_pragmas(*, memory: bool, busy_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
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


# --- reliability (issue 8): SQLite writers take turns; a restarting database says "try again" ---
# Owned by the issue-8 helper (fault 5 and SQLite bursts); see docs/reliability.md.

SQLITE_WRITE_QUEUE_TIMEOUT_S = 10.0  # then "database is locked": well inside Mattermost's 30 s
_READ_ONLY_WORDS = frozenset({"SELECT", "PRAGMA", "EXPLAIN", "VALUES"})


@dataclass(eq=False)
class _Turn:
    """The queue of one event loop: the lock, and who has it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: Any = None  # the DBAPI connection whose transaction has the turn
    task: asyncio.Task[Any] | None = None  # the task that took it


class WriterQueue:
    """One SQLite file's writers in this process, served one transaction at a time (FIFO).

    SQLite allows one writer per file. Left to itself, each waiting connection polls the file
    lock with growing sleeps, unfairly, and gives up after busy_timeout: under a burst of writes
    some lose and are answered "try again". Instead, a connection takes this queue's turn just
    before its first writing statement and gives it back when the connection is reset or returned
    to the pool (after its COMMIT or ROLLBACK). Reads never queue (WAL readers don't block).
    Another *process* still meets SQLite's own lock and busy_timeout, as before.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.timeout_s = SQLITE_WRITE_QUEUE_TIMEOUT_S
        self.turns = 0  # write transactions served
        self.waited_max_s = 0.0  # the longest wait for a turn
        self.timeouts = 0
        # One queue per event loop (an asyncio.Lock belongs to one loop; tests run many loops).
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turn] = (
            weakref.WeakKeyDictionary())

    def _turn(self) -> _Turn:
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = _Turn()
        return turn

    def holds(self, dbapi_connection: Any) -> bool:
        return any(t.holder is dbapi_connection for t in list(self._turns.values()))

    async def take_turn(self, dbapi_connection: Any) -> None:
        """Wait for the turn; OperationalError "database is locked" after `timeout_s`."""
        turn = self._turn()
        task = asyncio.current_task()
        if turn.lock.locked() and turn.task is task:
            # The task that has the turn is writing on a second connection (a unit of work
            # nested inside another): it would wait for itself. Fail at once, as SQLite would
            # after busy_timeout.
            log.error("nested write transaction on %s in one task: refused (it would wait for "
                      "itself); commit the outer unit of work first", self.path)
            raise sqlite3.OperationalError("database is locked (nested write transaction)")
        loop = asyncio.get_running_loop()
        started = loop.time()
        # One acquire, kept in the lock's queue for the whole wait: looking up every second
        # (for an abandoned turn) must not give up the place in line. Re-queueing each second
        # sent the longest waiters to the back: under a steady stream of writers a submission
        # waited up to 9 s while the median waited 0.2 s (issue 10).
        acquire = asyncio.ensure_future(turn.lock.acquire())
        try:
            while not acquire.done():
                self._reclaim_abandoned(turn)
                left = self.timeout_s - (loop.time() - started)
                if left <= 0:
                    self.timeouts += 1
                    log.warning("no SQLite write turn within %.1f s on %s", self.timeout_s,
                                self.path)
                    raise sqlite3.OperationalError("database is locked (write queue timeout)")
                await asyncio.wait({acquire}, timeout=min(left, 1.0))
            acquire.result()
        except BaseException:
            if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
                turn.lock.release()  # got it just as we gave up: pass it on
            else:
                acquire.cancel()
            raise
        turn.holder, turn.task = dbapi_connection, task
        self.turns += 1
        self.waited_max_s = max(self.waited_max_s, loop.time() - started)

    def give_back(self, dbapi_connection: Any) -> None:
        if dbapi_connection is None:
            return
        for turn in list(self._turns.values()):
            if turn.holder is dbapi_connection:
                turn.holder, turn.task = None, None
                if turn.lock.locked():
                    turn.lock.release()

    def _reclaim_abandoned(self, turn: _Turn) -> None:
        """A turn whose task has ended without giving it back (a leaked connection) is freed."""
        if turn.lock.locked() and turn.task is not None and turn.task.done():
            log.error("SQLite write turn on %s abandoned by finished task %s: reclaimed",
                      self.path, turn.task.get_name())
            turn.holder, turn.task = None, None
            turn.lock.release()


_QUEUES: weakref.WeakValueDictionary[str, WriterQueue] = weakref.WeakValueDictionary()


def writer_queue(path: str) -> WriterQueue:
    """The process-wide queue of one SQLite file (every engine on that file shares it)."""
    queue = _QUEUES.get(path)
    if queue is None:
        queue = _QUEUES[path] = WriterQueue(path)
    return queue


def is_write(statement: str) -> bool:
    """Conservative: anything that is not plainly a read counts as a write (BEGIN IMMEDIATE too)."""
    words = statement.lstrip().split(None, 1)
    return not words or words[0].upper() not in _READ_ONLY_WORDS


def _queue_writes(engine: AsyncEngine, queue: WriterQueue) -> None:
    """Take the turn in the dialect's execute hooks (inside SQLAlchemy's error handling, so a
    timeout surfaces as sqlalchemy.exc.OperationalError), give it back in the pool's hooks."""
    sync_engine = engine.sync_engine

    def before_write(statement: str, context: Any) -> None:
        dbapi_connection = context.root_connection.connection.dbapi_connection
        if not queue.holds(dbapi_connection) and is_write(statement):
            # Event hooks run in SQLAlchemy's greenlet on the event loop: await_only waits there.
            await_only(queue.take_turn(dbapi_connection))

    def on_execute(_cursor: Any, statement: str, _parameters: Any, context: Any) -> None:
        before_write(statement, context)

    def on_execute_no_params(_cursor: Any, statement: str, context: Any) -> None:
        before_write(statement, context)

    def give_back(dbapi_connection: Any, *_args: Any) -> None:
        queue.give_back(dbapi_connection)

    event.listen(sync_engine, "do_execute", on_execute)
    event.listen(sync_engine, "do_executemany", on_execute)
    event.listen(sync_engine, "do_execute_no_params", on_execute_no_params)
    # reset runs after the COMMIT/ROLLBACK when a connection goes back to the pool; the others
    # are for connections that leave the pool some other way.
    for name in ("reset", "checkin", "invalidate", "soft_invalidate", "close", "detach"):
        event.listen(sync_engine, name, give_back)


# PostgreSQL (asyncpg) restarting: SQLSTATE classes that mean "not now", not "you are wrong".
_TRANSIENT_SQLSTATE_CLASSES = ("08", "57", "53", "40")  # connection, shutdown, resources, retry
_TRANSIENT_SQLITE = ("database is locked", "database table is locked", "disk i/o error",
                     "unable to open database file")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot answer right now (restarting, unreachable, busy,
    a dropped connection, a full pool), so "try again in a minute" is the honest answer."""
    chain = list(_chain(exc))
    if not any(_from_database(e) for e in chain):
        return False  # e.g. a Mattermost call's network error: not ours to call an outage
    for e in chain:
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, (sa_exc.DisconnectionError, sa_exc.TimeoutError, OSError, TimeoutError)):
            return True  # OSError: refused, reset, unreachable; sa TimeoutError: pool exhausted
        if isinstance(e, sqlite3.OperationalError):
            return str(e).lower().startswith(_TRANSIENT_SQLITE)
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
            return True
        if type(e).__module__.startswith("asyncpg") and "connection" in str(e).lower():
            return True  # InterfaceError "connection is closed", ConnectionDoesNotExistError
    return False


def _from_database(e: BaseException) -> bool:
    return (isinstance(e, (sa_exc.SQLAlchemyError, sqlite3.Error))
            or type(e).__module__.startswith("asyncpg"))


def _connect_or_operational_error(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect; a server that is down or restarting raises the driver's OperationalError.

    asyncpg raises its own exceptions from connect() (CannotConnectNowError "the database system
    is starting up", AdminShutdownError, ConnectionRefusedError), which SQLAlchemy passes through
    unwrapped; as DBAPI errors they become sqlalchemy.exc.OperationalError like any other outage.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:
        refused = isinstance(exc, (OSError, TimeoutError))  # refused, reset, unreachable
        if isinstance(exc, dialect.loaded_dbapi.Error) or not (refused or is_unavailable(exc)):
            raise
        raise dialect.loaded_dbapi.OperationalError(f"{type(exc).__name__}: {exc}") from exc


T = TypeVar("T")
RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # about a minute in all


async def retry_while_unavailable(work: Callable[[], Awaitable[T]], *, what: str,
                                  delays: Sequence[float] = RETRY_DELAYS_S) -> T:
    """Run `work`; while it fails because the database is unavailable, wait and run it again.

    For work nobody is waiting on (websocket events): it is retried in order rather than lost.
    Only safe for work that is all-or-nothing or guarded by a claim. The last failure propagates.
    """
    for attempt, delay in enumerate(delays, start=1):
        try:
            return await work()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("%s: database unavailable (%s); attempt %d, retrying in %.2f s",
                        what, type(exc).__name__, attempt, delay)
        await asyncio.sleep(delay)
    return await work()
# --- end reliability (issue 8) ---
