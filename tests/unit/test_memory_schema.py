"""Memory (issue 10): the bot's start-up schema check skips Alembic only when nothing is to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot import schema
from storage import db


def test_head_from_files_is_alembics_head() -> None:
    from storage.migrate import head_revision

    assert schema.head_from_files() == head_revision()


def test_head_unclear_means_none(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = None\n')  # two heads
    assert schema.head_from_files(tmp_path) is None
    (tmp_path / "b.py").write_text('revision = compute()\n')
    assert schema.head_from_files(tmp_path) is None


@pytest.mark.asyncio
async def test_ensure_current_migrates_then_knows_it_is_current(tmp_path: Path) -> None:
    url = db.normalise_url(f"sqlite:///{tmp_path / 'bot.db'}")
    assert not await schema.is_current(url)  # a new file: Alembic decides
    await schema.ensure_current(url)
    assert await schema.is_current(url)
    assert await schema.database_revisions(url) == [schema.head_from_files()]


def test_running_bot_does_not_import_alembic() -> None:
    import subprocess

    code = "import bot.app, sys; print(any(m.startswith(('alembic', 'mako')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
