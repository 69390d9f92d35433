"""INSERT ... ON CONFLICT statements built once, as cacheable text.

SQLAlchemy 2.0 does not cache its dialect upserts (`sqlite.insert`/`postgresql.insert` set
`inherit_cache = False`), so each `on_conflict_do_*` statement was compiled anew on every
execution: six compilations per ticket on the intake path, about a fifth of its CPU (issue 10,
measured with a counter on `SQLCompiler.__init__`). The SQL below is the same on SQLite (3.35+)
and PostgreSQL, so one text statement per shape serves both backends, and its binds carry the
columns' types, so values go through the same conversions as with the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, bindparam, text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.base import Executable


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upsert(model: type[DeclarativeBase] | Table, columns: Sequence[str], conflict: Sequence[str],
           update: Sequence[str] = (), returning: Sequence[str] = ()) -> Executable:
    """`INSERT INTO t (columns) VALUES (:columns) ON CONFLICT (conflict) DO NOTHING`, or `DO
    UPDATE SET c = excluded.c` for each of `update`, `RETURNING returning` when given.

    Execute with one dict of parameters named after the columns; build it once per module."""
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    cols = ", ".join(_q(c) for c in columns)
    binds = ", ".join(f":{c}" for c in columns)
    action = ("DO UPDATE SET " + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in update)
              if update else "DO NOTHING")
    sql = (f"INSERT INTO {_q(table.name)} ({cols}) VALUES ({binds}) "
           f"ON CONFLICT ({', '.join(_q(c) for c in conflict)}) {action}")
    if returning:
        sql += " RETURNING " + ", ".join(_q(c) for c in returning)
    stmt = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    if returning:
        return stmt.columns(*(table.c[c] for c in returning))
    return stmt
