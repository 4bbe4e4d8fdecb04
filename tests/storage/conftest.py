"""The storage tests run on both databases: ``database`` is SQLite in the test's folder, or a
fresh database on the test run's PostgreSQL server (tests/support/postgres.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import Database


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a test's database lives, and its media directory; ``open()`` it (in the test's event loop)."""

    dialect: str
    target: str | Path
    media_dir: Path

    async def open(self) -> Database:
        return await Database.open(self.target, self.media_dir)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> DatabaseTarget:
    media_dir = tmp_path / "data"
    if request.param == "sqlite":
        return DatabaseTarget("sqlite", media_dir / "choreo.db", media_dir)
    return DatabaseTarget("postgresql", request.getfixturevalue("postgres_url"), media_dir)
