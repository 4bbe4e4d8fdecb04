"""Choreography sessions with their segments, candidates, picks, buttons and results.

A session is one song being choreographed in one chat; everything needed to resume after a
restart lives here. Buttons carry a short opaque token (their callback data) that is looked up
here, so stale, foreign or forged data finds nothing or a session in another state, and changes
nothing. Picks are conditional updates, so a double tap records one pick.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np

from .db import NOW, Database, Statements
from .jobs import insert_job
from .rows import (FINISHED_STATUSES, OPEN_STATUSES, Button, ButtonAction, Candidate, Delivery, JobKind, JobStatus,
                   PickMode, PickSource, Result, SegmentStatus, Session, SessionSegment, SessionStatus, SharedDance)

_OPEN = ", ".join("?" * len(OPEN_STATUSES))


class OpenSongsLimit(Exception):
    """The owner (``scope`` "owner") or the group ("chat") has ``limit`` open songs already."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} has {limit} open songs")
        self.scope = scope
        self.limit = limit


def new_token() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, well under Telegram's 64-byte limit


async def insert_buttons(conn: Statements, buttons: list[Button]) -> None:
    """Store buttons made together, in their order."""
    await conn.executemany(
        f"INSERT INTO buttons (token, session_id, idx, action, value, created_at, position) VALUES (?, ?, ?, ?, ?, {NOW}, ?)",
        [(b.token, b.session_id, b.idx, b.action, b.value, i) for i, b in enumerate(buttons)])


def _descriptor_blob(descriptors: np.ndarray) -> bytes:
    return np.ascontiguousarray(descriptors, dtype=np.float32).tobytes()


class SessionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ sessions
    async def create(self, *, chat_id: int, chat_type: str, owner_id: int, owner_name: str, language: str,
                     song_name: str, song_file_id: str, song_unique_id: str | None, song_duration: float | None,
                     source_message_id: int | None, mode: PickMode = PickMode.OWNER,
                     delivery: Delivery = Delivery.CHOOSE, update_id: int | None = None,
                     max_open_per_owner: int = 0, max_open_per_chat: int = 0) -> tuple[str, int] | None:
        """A new session with its analysis job queued, in one transaction; returns (session id, job id).

        ``update_id`` (the Telegram update asking for it) is marked handled in the same
        transaction, so a replayed update finds it handled and makes no second session (None).
        Raises :class:`OpenSongsLimit` when the owner (or, outside private chats, the chat)
        already has as many open sessions as allowed (0: no limit).
        """
        session_id = new_token()[:10]
        async with self.db.transaction() as conn:
            if update_id is not None:
                cur = await conn.execute("SELECT done_at FROM updates WHERE update_id = ?", (update_id,))
                row = await cur.fetchone()
                if row is not None and row["done_at"] is not None:
                    return None
            limits = [("owner_id", owner_id, max_open_per_owner)]
            if chat_type != "private":
                limits.append(("chat_id", chat_id, max_open_per_chat))
            for column, value, limit in limits:
                if limit:
                    cur = await conn.execute(
                        f"SELECT COUNT(*) AS n FROM sessions WHERE {column} = ? AND status IN ({_OPEN})",
                        (value, *OPEN_STATUSES))
                    if (await cur.fetchone())["n"] >= limit:
                        raise OpenSongsLimit("owner" if column == "owner_id" else "chat", limit)
            await conn.execute(
                """INSERT INTO sessions (id, chat_id, chat_type, owner_id, owner_name, language, mode, delivery, status,
                                         song_name, song_file_id, song_unique_id, song_duration, source_message_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (session_id, chat_id, chat_type, owner_id, owner_name, language, mode, delivery, SessionStatus.QUEUED,
                 song_name, song_file_id, song_unique_id, song_duration, source_message_id),
            )
            job_id = await insert_job(conn, session_id, JobKind.ANALYSE)
            if update_id is not None:
                await conn.execute(f"UPDATE updates SET done_at = {NOW} WHERE update_id = ?", (update_id,))
        return session_id, job_id

    async def get(self, session_id: str) -> Session | None:
        row = await self.db.fetchone("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return Session.of(row) if row else None

    async def update(self, session_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        async with self.db.transaction() as conn:
            await conn.execute(f"UPDATE sessions SET {cols}, updated_at = {NOW} WHERE id = ?",
                               (*fields.values(), session_id))

    async def set_status(self, session_id: str, status: SessionStatus, *,
                         only_if: tuple[SessionStatus, ...] | None = None,
                         next_job: tuple[JobKind, int | None] | None = None, **fields: Any) -> bool:
        """Move a session to ``status`` (if it is in one of ``only_if``); True when it moved, and
        then ``next_job`` is queued in the same transaction."""
        extra = "".join(f", {k} = ?" for k in fields)
        finished = f", finished_at = {NOW}" if status in FINISHED_STATUSES else ""
        sql = f"UPDATE sessions SET status = ?{extra}{finished}, updated_at = {NOW} WHERE id = ?"
        params: list[Any] = [status, *fields.values(), session_id]
        if only_if:
            sql += f" AND status IN ({', '.join('?' * len(only_if))})"
            params += list(only_if)
        async with self.db.transaction() as conn:
            cur = await conn.execute(sql, params)
            if cur.rowcount and next_job is not None:
                await insert_job(conn, session_id, *next_job)
            return cur.rowcount > 0

    async def discard(self, session_id: str) -> None:
        """Remove a session and, by cascade, everything of it (its job, buttons, segments...)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    async def store_analysis(self, session_id: str, analysis: dict, descriptors: np.ndarray, song_path: str,
                             descriptor_tag: str) -> bool:
        """The song's analysis: the session moves on to choosing, its segments wait to be offered.
        False (nothing written) when the session is no longer being analysed (cancelled meanwhile)."""
        n = len(analysis["segments"])
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """UPDATE sessions SET analysis = ?, descriptors = ?, descriptor_tag = ?, n_segments = ?,
                   song_path = ?, status = ?, current_segment = 0 WHERE id = ? AND status = ?""",
                (json.dumps(analysis), _descriptor_blob(descriptors), descriptor_tag, n, song_path,
                 SessionStatus.CHOOSING, session_id, SessionStatus.ANALYSING),
            )
            if cur.rowcount == 0:
                return False
            await conn.executemany("INSERT INTO session_segments (session_id, idx) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                   [(session_id, i) for i in range(n)])
            return True

    async def store_descriptors(self, session_id: str, descriptors: np.ndarray, descriptor_tag: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sessions SET descriptors = ?, descriptor_tag = ? WHERE id = ?",
                               (_descriptor_blob(descriptors), descriptor_tag, session_id))

    async def open_sessions(self, *, chat_id: int | None = None, owner_id: int | None = None) -> list[Session]:
        sql = f"SELECT * FROM sessions WHERE status IN ({_OPEN})"
        params: list[Any] = list(OPEN_STATUSES)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params.append(owner_id)
        return [Session.of(r) for r in await self.db.fetchall(sql + " ORDER BY created_at", params)]

    async def history(self, *, owner_id: int | None = None, chat_id: int | None = None,
                      limit: int = 20) -> list[Session]:
        # a finished dance whose part is being changed (rendering or delivering again) is still one
        sql = "SELECT * FROM sessions WHERE (status = ? OR (status IN (?, ?) AND finished_at IS NOT NULL))"
        params: list[Any] = [SessionStatus.DONE, SessionStatus.RENDERING, SessionStatus.DELIVERING]
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params.append(owner_id)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        sql += " ORDER BY finished_at DESC LIMIT ?"
        return [Session.of(r) for r in await self.db.fetchall(sql, (*params, limit))]

    async def close_chat(self, chat_id: int, reason: str) -> int:
        """The bot left the chat: its open sessions end here, quietly (their queued jobs too)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE sessions SET status = ?, error = ?, finished_at = {NOW}
                    WHERE chat_id = ? AND status IN ({_OPEN})""",
                (SessionStatus.CANCELLED, reason, chat_id, *OPEN_STATUSES))
            await conn.execute(
                "UPDATE jobs SET status = ? WHERE status = ? AND session_id IN (SELECT id FROM sessions WHERE chat_id = ?)",
                (JobStatus.DONE, JobStatus.QUEUED, chat_id))
            return cur.rowcount

    # ------------------------------------------------------------------ segments, candidates, buttons
    async def segment(self, session_id: str, idx: int) -> SessionSegment | None:
        row = await self.db.fetchone("SELECT * FROM session_segments WHERE session_id = ? AND idx = ?", (session_id, idx))
        return SessionSegment.of(row) if row else None

    async def store_candidates(self, session_id: str, idx: int, candidates: list[dict]) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM candidates WHERE session_id = ? AND idx = ?", (session_id, idx))
            await conn.executemany(
                """INSERT INTO candidates (session_id, idx, rank, library_segment_id, scores, total, stretch)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [(session_id, idx, c["rank"], c["segment_id"], json.dumps(c["scores"]), c["total"], c["stretch"])
                 for c in candidates],
            )

    async def candidates(self, session_id: str, idx: int) -> list[Candidate]:
        rows = await self.db.fetchall(
            "SELECT * FROM candidates WHERE session_id = ? AND idx = ? ORDER BY rank", (session_id, idx))
        return [Candidate.of(r) for r in rows]

    async def make_buttons(self, session_id: str, idx: int | None,
                           actions: list[tuple[ButtonAction, int | None]]) -> list[Button]:
        """Fresh tokens for the given (action, value) pairs; earlier ones of the same segment stay valid."""
        buttons = [Button(new_token(), session_id, idx, ButtonAction(action), value) for action, value in actions]
        async with self.db.transaction() as conn:
            await insert_buttons(conn, buttons)
        return buttons

    async def segment_buttons(self, session_id: str, idx: int) -> list[Button]:
        rows = await self.db.fetchall("SELECT * FROM buttons WHERE session_id = ? AND idx = ? ORDER BY created_at, position",
                                      (session_id, idx))
        return [Button.of(r) for r in rows]

    async def button(self, token: str) -> Button | None:
        row = await self.db.fetchone("SELECT * FROM buttons WHERE token = ?", (token,))
        return Button.of(row) if row else None

    async def offer(self, session_id: str, idx: int, vote_deadline: float | None = None) -> bool:
        """The part is offered (with its vote deadline, if voted), in one transaction, just before
        its preview is sent: a tap on the preview's buttons may come before the send is answered.
        Again for a part offered whose preview was never recorded (a kill mid-send; its first
        deadline stays). False when the session stopped choosing or the part is past that."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                """UPDATE session_segments SET status = ?, vote_deadline = COALESCE(vote_deadline, ?)
                   WHERE session_id = ? AND idx = ?
                   AND (status = ? OR (status = ? AND preview_message_id IS NULL))
                   AND (SELECT status FROM sessions WHERE id = ?) = ?""",
                (SegmentStatus.OFFERED, vote_deadline, session_id, idx, SegmentStatus.PENDING, SegmentStatus.OFFERED,
                 session_id, SessionStatus.CHOOSING))
            if cur.rowcount == 0:
                return False
            await conn.execute("UPDATE sessions SET current_segment = ? WHERE id = ?", (idx, session_id))
            return True

    async def preview_sent(self, session_id: str, idx: int, preview_message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE session_segments SET preview_message_id = ? WHERE session_id = ? AND idx = ?",
                               (preview_message_id, session_id, idx))

    async def start_render(self, session_id: str, mode: str) -> bool:
        """A finished session renders (or re-sends) another mode: status and job in one transaction;
        False when it is not finished (a render is already under way)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(f"UPDATE sessions SET status = ?, updated_at = {NOW} WHERE id = ? AND status = ?",
                                     (SessionStatus.RENDERING, session_id, SessionStatus.DONE))
            if cur.rowcount == 0:
                return False
            await insert_job(conn, session_id, JobKind.RENDER, payload={"mode": mode})
            return True

    # ------------------------------------------------------------------ picks
    async def record_picks(self, session_id: str, picks: list[tuple[int, int, int]], user_id: int | None,
                           source: PickSource, next_job: tuple[JobKind, int | None] | None = None) -> bool:
        """Record (idx, rank, library segment id) picks in one transaction, with the next job.

        Only segments not yet picked are written; returns False (and writes nothing) when the
        first of them was already picked - a double tap or a stale button - or the session is no
        longer choosing (cancelled).
        """
        async with self.db.transaction() as conn:
            for number, (idx, rank, segment_id) in enumerate(picks):
                # conditional: of two processes picking one part at once, the second finds it
                # picked once the first commits (PostgreSQL re-reads the row it waited for)
                cur = await conn.execute(
                    f"""UPDATE session_segments SET status = ?, picked_rank = ?, picked_segment_id = ?,
                        picked_by = ?, picked_at = {NOW}, pick_source = ?
                        WHERE session_id = ? AND idx = ? AND status != ?
                        AND (SELECT status FROM sessions WHERE id = ?) = ?""",
                    (SegmentStatus.PICKED, rank, segment_id, user_id, source, session_id, idx, SegmentStatus.PICKED,
                     session_id, SessionStatus.CHOOSING))
                if cur.rowcount == 0:
                    if number == 0:
                        return False
                    continue
                await conn.execute(
                    "INSERT INTO picks (session_id, idx, user_id, rank, library_segment_id, source) VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, idx, user_id, rank, segment_id, source))
            if next_job is not None:
                kind, idx = next_job
                await insert_job(conn, session_id, kind, idx)
                if kind == JobKind.RENDER:
                    await conn.execute("UPDATE sessions SET status = ? WHERE id = ?",
                                       (SessionStatus.RENDERING, session_id))
            return True

    async def picked_segment_ids(self, session_id: str) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT picked_segment_id FROM session_segments WHERE session_id = ? AND status = ? ORDER BY idx",
            (session_id, SegmentStatus.PICKED))
        return [r["picked_segment_id"] for r in rows]

    # ------------------------------------------------------------------ results
    async def store_result(self, session_id: str, mode: str, video_path: str, sheet_path: str | None,
                           video_sha256: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO results (session_id, mode, video_path, sheet_path, video_sha256) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (session_id, mode) DO UPDATE SET video_path = excluded.video_path,
                   sheet_path = excluded.sheet_path, video_sha256 = excluded.video_sha256""",
                (session_id, mode, video_path, sheet_path, video_sha256))

    async def result(self, session_id: str, mode: str) -> Result | None:
        row = await self.db.fetchone("SELECT * FROM results WHERE session_id = ? AND mode = ?", (session_id, mode))
        return Result.of(row) if row else None

    async def shared_dances(self, owner_id: int, query: str = "", limit: int = 20) -> list[SharedDance]:
        """The user's finished dances that have an uploaded video (for inline sharing)."""
        rows = await self.db.fetchall(
            """SELECT s.id AS session_id, s.song_name, s.finished_at, r.mode, f.file_id FROM sessions s
               JOIN results r ON r.session_id = s.id JOIN file_cache f ON f.sha256 = r.video_sha256
               WHERE s.owner_id = ? AND s.status = ? AND lower(s.song_name) LIKE lower(?)
               ORDER BY s.finished_at DESC, r.mode LIMIT ?""", (owner_id, SessionStatus.DONE, f"%{query}%", limit))
        return [SharedDance(**dict(r)) for r in rows]
