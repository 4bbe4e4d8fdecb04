"""Session locks that hold across processes: one change of a session at a time, whichever bot
process handles it (a button, a cancel, closing a vote, removing a finished session's files).

A lock is a lease row in ``session_locks``: taken by an upsert that succeeds only when the row
is absent or its lease ran out, given back by deleting it. A process killed while holding one
blocks that session for at most the lease. Inside a process an asyncio lock queues the
coroutines first, so only one of them polls the database. A SQLite database has one bot process
(its data directory's owner lock, ``storage.owner``): there the asyncio lock is the whole lock,
unless ``across_processes`` asks for the lease too. The state changes themselves stay
conditional updates: the lock keeps the messages around them in order, it is not what keeps a
part from being picked twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import AsyncIterator

from .db import Database

LEASE_SECONDS = 30.0  # longer than any change of a session takes (they never wait on the engine)
POLL_SECONDS = 0.05


class SessionLocks:
    def __init__(self, db: Database, lease_seconds: float = LEASE_SECONDS, poll_seconds: float = POLL_SECONDS,
                 across_processes: bool | None = None) -> None:
        self.db = db
        self.across_processes = db.path is None if across_processes is None else across_processes
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._local: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        async with self._local.setdefault(session_id, asyncio.Lock()):
            if not self.across_processes:
                yield
                return
            holder = secrets.token_hex(8)
            while not await self.take(session_id, holder):
                await asyncio.sleep(self.poll_seconds)
            try:
                yield
            finally:
                await self.give_back(session_id, holder)

    async def take(self, session_id: str, holder: str) -> bool:
        """The session's lock for ``holder``, if nobody holds it or its lease ran out."""
        now = time.time()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO session_locks (session_id, holder, expires_at) VALUES (?, ?, ?)
                   ON CONFLICT (session_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                   WHERE session_locks.expires_at < ?""", (session_id, holder, now + self.lease_seconds, now))
            return cur.rowcount > 0

    async def give_back(self, session_id: str, holder: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM session_locks WHERE session_id = ? AND holder = ?", (session_id, holder))
