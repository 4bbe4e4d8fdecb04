"""Versions of a session's dance: every render is kept (its picks, the part it changed, its video),
so a part can be changed afterwards and ``/history`` can send any version again.

Changing a part is one transaction: the session leaves ``done`` for ``rendering`` only if it was
done (a double tap changes nothing twice), the part's pick moves, and the render job is queued.
"""

from __future__ import annotations

import json

from .db import NOW, Database
from .jobs import insert_job
from .rows import Button, ButtonAction, DanceVersion, JobKind, PickSource, SegmentStatus, SessionStatus
from .sessions import insert_buttons, new_token


class VersionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, session_id: str, mode: str, picks: list[int], changed_part: int | None, video_path: str,
                  video_sha256: str) -> DanceVersion:
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM dance_versions WHERE session_id = ?",
                                     (session_id,))
            number = (await cur.fetchone())[0]
            await conn.execute(
                """INSERT INTO dance_versions (session_id, number, mode, picks, changed_part, video_path, video_sha256)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (session_id, number, mode, json.dumps(picks), changed_part, video_path, video_sha256))
        return await self.get(session_id, number)

    async def next_number(self, session_id: str) -> int:
        row = await self.db.fetchone("SELECT COALESCE(MAX(number), 0) + 1 AS n FROM dance_versions WHERE session_id = ?",
                                     (session_id,))
        return int(row["n"])

    async def get(self, session_id: str, number: int) -> DanceVersion | None:
        row = await self.db.fetchone("SELECT * FROM dance_versions WHERE session_id = ? AND number = ?",
                                     (session_id, number))
        return DanceVersion.of(row) if row else None

    async def find(self, session_id: str, mode: str, picks: list[int]) -> DanceVersion | None:
        """The newest version with exactly these picks in this mode (nothing to render again)."""
        row = await self.db.fetchone(
            "SELECT * FROM dance_versions WHERE session_id = ? AND mode = ? AND picks = ? ORDER BY number DESC LIMIT 1",
            (session_id, mode, json.dumps(picks)))
        return DanceVersion.of(row) if row else None

    async def of_sessions(self, session_ids: list[str]) -> dict[str, list[DanceVersion]]:
        """Every version of the given sessions, oldest first."""
        if not session_ids:
            return {}
        rows = await self.db.fetchall(
            f"SELECT * FROM dance_versions WHERE session_id IN ({', '.join('?' * len(session_ids))}) ORDER BY number",
            tuple(session_ids))
        out: dict[str, list[DanceVersion]] = {s: [] for s in session_ids}
        for r in rows:
            out[r["session_id"]].append(DanceVersion.of(r))
        return out

    # ------------------------------------------------------------------ changing a part
    async def offer_change(self, session_id: str, idx: int, segment_ids: list[int]) -> list[Button]:
        """Buttons for the new candidates of part ``idx`` (one per library segment id, in rank
        order); the buttons of an earlier offer for the same part stop working."""
        buttons = [Button(new_token(), session_id, idx, ButtonAction.CHANGE_PICK, s) for s in segment_ids]
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM buttons WHERE session_id = ? AND idx = ? AND action = ?",
                               (session_id, idx, ButtonAction.CHANGE_PICK))
            await insert_buttons(conn, buttons)
        return buttons

    async def change_rank(self, session_id: str, idx: int, token: str) -> int:
        """The 1-based rank of a change button among its offer's (they were stored in rank order)."""
        rows = await self.db.fetchall(
            "SELECT token FROM buttons WHERE session_id = ? AND idx = ? AND action = ? ORDER BY created_at, position",
            (session_id, idx, ButtonAction.CHANGE_PICK))
        tokens = [r["token"] for r in rows]
        return tokens.index(token) + 1 if token in tokens else 0

    async def change_pick(self, session_id: str, idx: int, rank: int, segment_id: int, user_id: int | None,
                          mode: str) -> bool:
        """Part ``idx`` of a finished dance now dances ``segment_id``; its render is queued.
        False (nothing written) when the session is not done: a render is under way, or it ended."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(f"UPDATE sessions SET status = ?, updated_at = {NOW} WHERE id = ? AND status = ?",
                                     (SessionStatus.RENDERING, session_id, SessionStatus.DONE))
            if cur.rowcount == 0:
                return False
            await conn.execute(
                f"""UPDATE session_segments SET picked_rank = ?, picked_segment_id = ?, picked_by = ?,
                    picked_at = {NOW}, pick_source = ? WHERE session_id = ? AND idx = ? AND status = ?""",
                (rank, segment_id, user_id, PickSource.USER, session_id, idx, SegmentStatus.PICKED))
            await conn.execute(
                "INSERT INTO picks (session_id, idx, user_id, rank, library_segment_id, source) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, idx, user_id, rank, segment_id, PickSource.USER))
            await insert_job(conn, session_id, JobKind.RENDER, None, {"mode": mode, "changed_part": idx})
            return True
