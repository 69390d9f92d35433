"""URL normalisation (pure) and the health-check ping."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import create_engine, is_sqlite, normalise_url, ping

BASE = Path("/etc/supportbot")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///supportbot.db", "sqlite+aiosqlite:////etc/supportbot/supportbot.db"),
        ("sqlite:///data/../desk.db", "sqlite+aiosqlite:////etc/supportbot/desk.db"),
        ("sqlite:////var/lib/desk.db", "sqlite+aiosqlite:////var/lib/desk.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///desk.db", "sqlite+aiosqlite:////etc/supportbot/desk.db"),
        ("postgresql://desk@db.internal/desk", "postgresql+asyncpg://desk@db.internal/desk"),
        ("postgres://desk:s3cret@db:6432/desk", "postgresql+asyncpg://desk:s3cret@db:6432/desk"),
        ("postgresql+asyncpg://desk@db/desk", "postgresql+asyncpg://desk@db/desk"),
        ("postgresql+psycopg://desk@db/desk", "postgresql+psycopg://desk@db/desk"),
        (
            "postgresql://desk@db/desk?ssl=require",
            "postgresql+asyncpg://desk@db/desk?ssl=require",
        ),
    ],
)
def test_config_urls_get_an_async_driver_and_an_absolute_path(url: str, expected: str) -> None:
    assert normalise_url(url, BASE) == expected


def test_relative_sqlite_path_without_base_dir_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalise_url("sqlite:///desk.db", None) == f"sqlite+aiosqlite:///{tmp_path}/desk.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", True),
        ("sqlite+aiosqlite:///:memory:", True),
        ("postgresql://u@h/d", False),
        ("postgresql+asyncpg://u@h/d", False),
    ],
)
def test_is_sqlite(url: str, expected: bool) -> None:
    assert is_sqlite(url) is expected


async def test_ping_answers_true_for_a_live_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await ping(engine) is True
    finally:
        await engine.dispose()


async def test_ping_answers_false_when_nothing_listens() -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    try:
        assert await ping(engine, within_s=2) is False
    finally:
        await engine.dispose()
