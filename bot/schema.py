"""Start-up schema check without Alembic when there is nothing to migrate (memory, issue 10).

Importing Alembic (and Mako, which it pulls in) costs the bot process about 10 MiB of Python
objects that stay for its whole life, though a running bot only needs them on the start that
actually migrates. So `ensure_current(url)` first compares the database's `alembic_version`
with the head revision read from the migration files (parsed with `ast`, not imported); only
when they differ, or when anything is unclear, does it import storage.migrate and run the
usual `upgrade(url)` (its locking and transaction are unchanged).

Falls back to Alembic whenever: the files cannot be parsed, there is not exactly one head,
the version table is missing or empty, it holds more than one row, or its one row is not the
head (older: migrate; newer: Alembic reports the unknown revision as before).
"""

from __future__ import annotations

import ast
import functools
import logging
from pathlib import Path

from sqlalchemy import text

from storage import db

log = logging.getLogger(__name__)

VERSIONS_DIR = Path(db.__file__).resolve().parent / "migrations" / "versions"


def _assigned(tree: ast.Module) -> dict[str, object]:
    """Top-level `name = literal` / `name: type = literal` assignments of a migration file."""
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value)
    return found


@functools.cache
def head_from_files(versions_dir: Path = VERSIONS_DIR) -> str | None:
    """The single head revision of the migration files, or None if it cannot be told for sure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in sorted(versions_dir.glob("*.py")):
            found = _assigned(ast.parse(path.read_text(encoding="utf-8")))
            revision, down = found.get("revision"), found.get("down_revision")
            if not isinstance(revision, str) or revision in revisions:
                return None
            revisions.add(revision)
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
                parents.update(down)
            elif down is not None:
                return None
    except (OSError, SyntaxError, ValueError) as exc:
        log.debug("migration files not parsed (%s): Alembic decides", exc)
        return None
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


async def database_revisions(url: str) -> list[str] | None:
    """The rows of alembic_version, or None when the table cannot be read (e.g. a new file)."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        return [str(row[0]) for row in rows]
    except Exception as exc:  # noqa: BLE001 - no table, no file, no server: Alembic decides
        log.debug("alembic_version not read (%s): Alembic decides", type(exc).__name__)
        return None
    finally:
        await engine.dispose()


async def is_current(url: str) -> bool:
    head = head_from_files()
    if head is None or db.is_memory_sqlite(url):
        return False
    return await database_revisions(url) == [head]


async def ensure_current(url: str) -> None:
    """Bring the database at `url` to head; Alembic is imported only if something is to do."""
    if await is_current(url):
        return
    from storage.migrate import upgrade  # Alembic: only on a start that has something to do

    await upgrade(url)
