"""Run the Alembic migrations from code: no alembic.ini, safe on every start.

`await upgrade(url)` brings the database to head. On PostgreSQL a transaction-scoped advisory
lock serialises concurrent starters (the losers wait, then find nothing to do); on SQLite a
BEGIN IMMEDIATE does the same. The whole upgrade is one transaction on both backends.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

# Found next to this file, so a non-editable (site-packages) install works too.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed bigint works; every supportbot process must agree on it.
MIGRATION_LOCK_KEY = 0x5355_5050_4442  # "SUPPDB"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` (normalised or a config URL) to `revision`."""
    engine = create_engine(url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Like upgrade(), on an existing engine (the only way to migrate `sqlite:///:memory:`)."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade, revision)
        await conn.commit()


async def current_revision(url: str) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _upgrade(conn: Connection, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        # Held until our commit; other starters block here, then see the new alembic_version.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the version
    config = alembic_config()
    config.attributes["connection"] = conn  # env.py migrates on it; the caller commits
    command.upgrade(config, revision)


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
