"""Throwaway PostgreSQL databases for tests, one per test session (or per test).

    url = await fresh_postgres_url()   # None when no server answers: skip, don't fail
    ...
    await drop_database(url)

The server comes from SUPPORTBOT_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test);
its database is only used to CREATE/DROP `supportbot_test_<random>` databases, never written to.
"""

from __future__ import annotations

import logging
import os
import secrets

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import normalise_url

PG_URL_ENV = "SUPPORTBOT_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_DB_PREFIX = "supportbot_test_"
CONNECT_TIMEOUT_S = 5

log = logging.getLogger(__name__)


def postgres_server_url() -> str:
    """The asyncpg URL of the test server's maintenance database."""
    return normalise_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))


def skip_reason() -> str:
    return f"PostgreSQL unreachable at {postgres_server_url()} (set {PG_URL_ENV} to use another)"


async def fresh_postgres_url() -> str | None:
    """Create an empty database `supportbot_test_<random>`; return its asyncpg URL.

    None when the server cannot be reached or refuses, so callers can pytest.skip().
    """
    server = postgres_server_url()
    name = TEST_DB_PREFIX + secrets.token_hex(6)
    engine = _admin_engine(server)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable, auth, no CREATEDB right: all mean "no PostgreSQL here"
        log.info("no test PostgreSQL at %s: %s", server, exc)
        return None
    finally:
        await engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    """Drop a database made by fresh_postgres_url(), closing any connections still open to it."""
    name = make_url(url).database or ""
    if not name.startswith(TEST_DB_PREFIX) or not name[len(TEST_DB_PREFIX) :].isalnum():
        raise ValueError(f"refusing to drop {name!r}: not a database made by fresh_postgres_url()")
    engine = _admin_engine(postgres_server_url())
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def _admin_engine(url: str) -> AsyncEngine:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    return create_async_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT_S},
    )
