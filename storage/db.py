"""The aiosqlite connection: WAL mode, foreign keys, migrations, transactions."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator

import sqlite3

import aiosqlite

from .migrations import MIGRATIONS

# What SQLite raises when the database is locked or busy, or the disk is full: it may pass
PassingDatabaseError = sqlite3.OperationalError


class Database:
    """One connection shared by the process; writes go through :meth:`transaction`.

    aiosqlite runs the connection on its own thread, so coroutines interleave on it; the lock
    keeps one transaction at a time, which is what makes every write all-or-nothing.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.data_dir = path.parent
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> "Database":
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=10000")
        db = cls(conn, path)
        await db.migrate()
        return db

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            return (await cur.fetchone())[0]

    async def migrate(self) -> None:
        version = await self.schema_version()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={number}")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                # a failed COMMIT (a full disk: "database or disk is full") may leave the
                # transaction open or already rolled back; either way none of it stays, and the
                # connection takes the next transaction once there is room again
                if self.conn.in_transaction:
                    with contextlib.suppress(Exception):
                        await self.conn.execute("ROLLBACK")
                raise

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection with no transaction of this process running meanwhile (for VACUUM)."""
        async with self._lock:
            yield self.conn

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    return [s.strip() for s in script.split(";") if s.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())]
