"""Whether the database answers: opened as the bot opens it, then a trivial query (``choreo health``)."""

from __future__ import annotations

from pathlib import Path

from .db import Database


async def database_answers(target: str | Path) -> str | None:
    """Open ``target`` (a SQLite path or a database URL), ask it its schema revision (Alembic's), close it.
    Raises whatever the driver raises when the database cannot be reached."""
    db = await Database.open(target)
    try:
        return await db.revision()
    finally:
        await db.close()
