"""The update inbox: Telegram updates written down before they are acknowledged.

With long polling, Telegram forgets an update once the next getUpdates asks for a later offset,
which the bot does right after queueing what it got, long before it has handled it. A bot
killed in between would lose a tap. So every update is recorded here first and marked done
once handled (a new song: in the same transaction as its session); at start the rest is
handled again. Replays are safe: picks, votes and cancels are conditional updates.
"""

from __future__ import annotations

import json
import time

from .db import NOW, Database
from .retention import iso

KEEP_DONE_DAYS = 2  # done updates are kept this long (Telegram re-sends nothing older)


class UpdateInbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, update_id: int, body: dict) -> bool:
        """Write an update down; False when it was recorded before (Telegram sent it again)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("INSERT INTO updates (update_id, body) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                     (update_id, json.dumps(body)))
            return cur.rowcount > 0

    async def done(self, update_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(f"UPDATE updates SET done_at = {NOW} WHERE update_id = ? AND done_at IS NULL",
                               (update_id,))

    async def pending(self) -> list[tuple[int, dict]]:
        """Recorded updates not yet handled, oldest first."""
        rows = await self.db.fetchall("SELECT update_id, body FROM updates WHERE done_at IS NULL ORDER BY update_id")
        return [(r["update_id"], json.loads(r["body"])) for r in rows]

    async def prune(self) -> int:
        """Forget handled updates older than ``KEEP_DONE_DAYS``."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM updates WHERE done_at IS NOT NULL AND done_at < ?",
                (iso(time.time() - KEEP_DONE_DAYS * 86400),))
            return cur.rowcount
