"""Versions of a session's dance: every render is kept (its picks, the part it changed, its video),
so a part can be changed afterwards and ``/history`` can send any version again.

Changing a part is one transaction: the session leaves ``done`` for ``rendering`` only if it was
done (a double tap changes nothing twice), the part's pick moves, and the render job is queued.

In a group in vote mode a change offer is voted on like a part being chosen: the offer's
:data:`ButtonAction.CHANGE_CLOSE` button (the starter's "Close vote") exists while the vote is
open and holds its deadline; the votes are the part's rows in ``votes`` (those of the first
choice are cleared when the change vote opens; ``vote_history`` keeps every tap).
"""

from __future__ import annotations

import json

from .db import NOW, Database
from .jobs import insert_job
from .rows import Button, ButtonAction, DanceVersion, JobKind, PickSource, SegmentStatus, SessionStatus
from .sessions import insert_buttons, new_token
from .votes import record_vote


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
                          mode: str, source: PickSource = PickSource.USER) -> bool:
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
                (rank, segment_id, user_id, source, session_id, idx, SegmentStatus.PICKED))
            await conn.execute(
                "INSERT INTO picks (session_id, idx, user_id, rank, library_segment_id, source) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, idx, user_id, rank, segment_id, source))
            # a vote on this part, if one was open, is closed by the change
            await conn.execute("DELETE FROM buttons WHERE session_id = ? AND idx = ? AND action = ?",
                               (session_id, idx, ButtonAction.CHANGE_CLOSE))
            await insert_job(conn, session_id, JobKind.RENDER, None, {"mode": mode, "changed_part": idx})
            return True

    # ------------------------------------------------------------------ a group's vote on a change
    async def open_change_vote(self, session_id: str, idx: int, deadline: float) -> Button:
        """The part's change offer is voted on until ``deadline``: its close button, the part's
        earlier votes cleared."""
        close = Button(new_token(), session_id, idx, ButtonAction.CHANGE_CLOSE, int(deadline))
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM buttons WHERE session_id = ? AND idx = ? AND action = ?",
                               (session_id, idx, ButtonAction.CHANGE_CLOSE))
            await conn.execute("DELETE FROM votes WHERE session_id = ? AND idx = ?", (session_id, idx))
            await conn.execute("INSERT INTO buttons (token, session_id, idx, action, value) VALUES (?, ?, ?, ?, ?)",
                               (close.token, session_id, idx, close.action, close.value))
        return close

    async def change_vote_on(self, session_id: str, idx: int, message_id: int) -> None:
        """The message the part's open change vote is on (for its closing by the deadline)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE buttons SET message_id = ? WHERE session_id = ? AND idx = ? AND action = ?",
                               (message_id, session_id, idx, ButtonAction.CHANGE_CLOSE))

    async def change_vote_open(self, session_id: str, idx: int) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM buttons WHERE session_id = ? AND idx = ? AND action = ?",
                                     (session_id, idx, ButtonAction.CHANGE_CLOSE))
        return row is not None

    async def change_vote(self, session_id: str, idx: int, user_id: int, rank: int) -> bool:
        """One vote per person on the change of a part (a second tap moves it); False when no
        change vote is open on it or the dance is not done (a change is being rendered)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """SELECT 1 FROM buttons b JOIN sessions s ON s.id = b.session_id
                   WHERE b.session_id = ? AND b.idx = ? AND b.action = ? AND s.status = ?""",
                (session_id, idx, ButtonAction.CHANGE_CLOSE, SessionStatus.DONE))
            if await cur.fetchone() is None:
                return False
            await record_vote(conn, session_id, idx, user_id, rank)
            return True

    async def change_choice(self, session_id: str, idx: int, rank: int) -> int | None:
        """The library segment id of candidate ``rank`` (1-based) of the part's change offer."""
        rows = await self.db.fetchall(
            "SELECT value FROM buttons WHERE session_id = ? AND idx = ? AND action = ? ORDER BY created_at, position",
            (session_id, idx, ButtonAction.CHANGE_PICK))
        return int(rows[rank - 1]["value"]) if 0 < rank <= len(rows) else None

    async def due_change_votes(self, now: float) -> list[tuple[str, int, int | None]]:
        """(session id, part, the message the vote is on) of the change votes whose deadline has passed."""
        rows = await self.db.fetchall(
            """SELECT b.session_id, b.idx, b.message_id FROM buttons b JOIN sessions s ON s.id = b.session_id
               WHERE b.action = ? AND b.value <= ? AND s.status = ?""",
            (ButtonAction.CHANGE_CLOSE, now, SessionStatus.DONE))
        return [(r["session_id"], r["idx"], r["message_id"]) for r in rows]
