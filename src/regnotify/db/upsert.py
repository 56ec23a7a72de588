"""``INSERT … ON CONFLICT DO NOTHING`` for the session's database, PostgreSQL or SQLite alike.

One statement stores a row unless its unique key is taken, without a savepoint to roll back to:
the ingest path uses it where a concurrent writer may have stored the same key first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None  # sessions are made on engines (db.engine)
    return bind.dialect.name


def insert_unless_present(dialect: str, target: Any, key: list[str]) -> Any:
    """An ``INSERT`` into ``target`` (a model or table) that skips rows whose ``key`` columns exist,
    for ``dialect`` (``dialect_of(session)``).

    Add ``.values(...)`` and, to learn whether the row went in, ``.returning(...)``."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(target).on_conflict_do_nothing(index_elements=key)
