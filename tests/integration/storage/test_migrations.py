"""Alembic from code: empty -> head, idempotent, concurrent-safe, and in step with models.py."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import create_engine, session_factory
from storage.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    upgrade,
    upgrade_engine,
)
from storage.models import Base
from storage.uow import SqlUnitOfWork

import storage.uow  # noqa: E402,F401  (loads every feature's rows onto Base.metadata)

TABLES = {"alembic_version", *Base.metadata.tables}
TABLES |= {"oncall_overrides", "oncall_pages"}  # on-call (issue 5)
TABLES |= {"escalations"}  # escalation (issue 6)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_migrations_ship_inside_the_storage_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    numbered = sorted(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert head_revision() == numbered[-1]  # one linear chain, newest file last


async def test_upgrade_takes_an_empty_database_to_head(empty_db_url: str) -> None:
    assert await current_revision(empty_db_url) is None

    await upgrade(empty_db_url)

    assert await current_revision(empty_db_url) == head_revision()
    assert await _tables(empty_db_url) == TABLES


async def test_upgrade_is_safe_to_run_on_every_start(empty_db_url: str) -> None:
    await upgrade(empty_db_url)
    await upgrade(empty_db_url)

    assert await current_revision(empty_db_url) == head_revision()


async def test_concurrent_starters_migrate_once(empty_db_url: str) -> None:
    await asyncio.gather(*(upgrade(empty_db_url) for _ in range(4)))

    assert await current_revision(empty_db_url) == head_revision()
    assert await _tables(empty_db_url) == TABLES


async def test_migrated_schema_matches_the_models(empty_db_url: str) -> None:
    await upgrade(empty_db_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_an_in_memory_sqlite_database_is_migrated_through_its_engine() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        await upgrade_engine(engine)
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            assert await uow.claims.claim("test", "memory") is True
    finally:
        await engine.dispose()
