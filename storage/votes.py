"""Group choosing: each chat's pick mode, the votes on a part, and vote deadlines."""

from __future__ import annotations

from .db import NOW, Database
from .rows import OPEN_STATUSES, Delivery, PickMode, SegmentStatus, SessionStatus


async def record_vote(conn, session_id: str, idx: int, user_id: int, rank: int) -> None:
    """A person's vote on part ``idx`` (a second tap moves it), and its line in the history."""
    await conn.execute(
        f"""INSERT INTO votes (session_id, idx, user_id, rank) VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id, idx, user_id) DO UPDATE SET rank = excluded.rank,
            at = {NOW}""", (session_id, idx, user_id, rank))
    await conn.execute("INSERT INTO vote_history (session_id, idx, user_id, rank) VALUES (?, ?, ?, ?)",
                       (session_id, idx, user_id, rank))

_OPEN = ", ".join("?" * len(OPEN_STATUSES))


class VoteRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def chat_mode(self, chat_id: int) -> PickMode:
        row = await self.db.fetchone("SELECT mode FROM chat_settings WHERE chat_id = ?", (chat_id,))
        return PickMode(row["mode"]) if row else PickMode.OWNER

    async def set_chat_mode(self, chat_id: int, mode: PickMode, user_id: int) -> None:
        """The mode for the chat's new sessions and for its open ones."""
        async with self.db.transaction() as conn:
            await conn.execute(
                f"""INSERT INTO chat_settings (chat_id, mode, changed_by) VALUES (?, ?, ?)
                    ON CONFLICT (chat_id) DO UPDATE SET mode = excluded.mode, changed_by = excluded.changed_by,
                    changed_at = {NOW}""", (chat_id, mode, user_id))
            await conn.execute(f"UPDATE sessions SET mode = ? WHERE chat_id = ? AND status IN ({_OPEN})",
                               (mode, chat_id, *OPEN_STATUSES))

    async def vote(self, session_id: str, idx: int, user_id: int, rank: int) -> bool:
        """One vote per person per segment; a second tap moves it. False if the segment is closed."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT status FROM session_segments WHERE session_id = ? AND idx = ?",
                                     (session_id, idx))
            row = await cur.fetchone()
            if row is None or row["status"] != SegmentStatus.OFFERED:
                return False
            await record_vote(conn, session_id, idx, user_id, rank)
            return True

    async def counts(self, session_id: str, idx: int) -> dict[int, int]:
        """Votes per candidate rank."""
        rows = await self.db.fetchall(
            "SELECT rank, COUNT(*) AS n FROM votes WHERE session_id = ? AND idx = ? GROUP BY rank", (session_id, idx))
        return {r["rank"]: r["n"] for r in rows}

    async def set_deadline(self, session_id: str, idx: int, deadline: float | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE session_segments SET vote_deadline = ? WHERE session_id = ? AND idx = ?",
                               (deadline, session_id, idx))

    async def due(self, now: float) -> list[tuple[str, int]]:
        """(session id, part) of the open votes whose deadline has passed."""
        rows = await self.db.fetchall(
            """SELECT s.session_id, s.idx FROM session_segments s JOIN sessions x ON x.id = s.session_id
               WHERE s.status = ? AND s.vote_deadline IS NOT NULL AND s.vote_deadline <= ?
               AND x.status = ?""", (SegmentStatus.OFFERED, now, SessionStatus.CHOOSING))
        return [(r["session_id"], r["idx"]) for r in rows]

    async def chat_delivery(self, chat_id: int) -> Delivery:
        """What the chat's songs get first (/mode auto: the auto-picked dance)."""
        row = await self.db.fetchone("SELECT delivery FROM chat_settings WHERE chat_id = ?", (chat_id,))
        return Delivery(row["delivery"]) if row else Delivery.CHOOSE

    async def set_chat_delivery(self, chat_id: int, delivery: Delivery, user_id: int) -> None:
        """For the chat's new songs (a song already being chosen keeps its way)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                f"""INSERT INTO chat_settings (chat_id, delivery, changed_by) VALUES (?, ?, ?)
                    ON CONFLICT (chat_id) DO UPDATE SET delivery = excluded.delivery,
                    changed_by = excluded.changed_by, changed_at = {NOW}""", (chat_id, delivery, user_id))
