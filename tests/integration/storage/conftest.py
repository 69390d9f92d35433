"""Databases for the storage tests: every `db_url` test runs on SQLite and on PostgreSQL.

PostgreSQL gets one `supportbot_test_<random>` database per test session, migrated once and
emptied before each test; it is dropped at the end. Without a server those cases are skipped.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, is_sqlite, normalise_url, session_factory
from storage.migrate import upgrade
from storage.uow import SqlUnitOfWork
from tests import dbutil

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
DATA_TABLES = ("ticket_events", "ticket_cc", "tickets", "customers", "claims")
DATA_TABLES = ("oncall_pages", "oncall_overrides", *DATA_TABLES)  # on-call (issue 5)

UowFactory = Callable[[], SqlUnitOfWork]


@pytest.fixture(scope="session")
def migrated_postgres_url() -> Iterator[str | None]:
    """A session-wide, migrated PostgreSQL database (None when there is no server)."""
    url = asyncio.run(dbutil.fresh_postgres_url())
    if url is None:
        yield None
        return
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(dbutil.drop_database(url))


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy (copying is much faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "supportbot.db"
    asyncio.run(upgrade(normalise_url(f"sqlite:///{path}")))  # closing checkpoints the WAL
    return path


@pytest.fixture(params=BACKENDS)
def _migrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # Sync on purpose: the session fixtures it pulls in lazily call asyncio.run().
    if request.param == "sqlite":
        path = tmp_path / "supportbot.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
        return normalise_url(f"sqlite:///{path}")
    url = request.getfixturevalue("migrated_postgres_url")
    if url is None:
        pytest.skip(dbutil.skip_reason())
    return url


@pytest.fixture
async def db_url(_migrated_database: str) -> str:
    """The URL of a migrated database with no rows, on each backend."""
    url = _migrated_database
    if is_sqlite(url):
        return url  # a fresh copy of the template
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:  # DELETE is much faster than TRUNCATE on tiny tables
            for table in DATA_TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with nothing in it, not even alembic_version."""
    if request.param == "sqlite":
        yield normalise_url("sqlite:///empty.db", tmp_path)
        return
    url = await dbutil.fresh_postgres_url()
    if url is None:
        pytest.skip(dbutil.skip_reason())
    try:
        yield url
    finally:
        await dbutil.drop_database(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> UowFactory:
    sessions = session_factory(engine)
    return lambda: SqlUnitOfWork(sessions)


@pytest.fixture
def backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"
