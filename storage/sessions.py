"""Choreography sessions: everything needed to resume after a restart lives here.

A session is one song being choreographed in one chat. Buttons carry a short opaque token
(their callback data) that is looked up here, so stale, foreign or forged data finds nothing
or a session in another state, and changes nothing. Picks are conditional updates, so a
double tap records one pick.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from .db import Database

OPEN_STATUSES = ("queued", "analysing", "choosing", "rendering")


def new_token() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, well under Telegram's 64-byte limit


@dataclass
class Button:
    token: str
    session_id: str
    idx: int | None
    action: str
    value: int | None


class SessionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ sessions
    async def create(self, *, chat_id: int, chat_type: str, owner_id: int, owner_name: str, language: str,
                     song_name: str, song_file_id: str, song_unique_id: str | None, song_duration: float | None,
                     source_message_id: int | None) -> tuple[str, int]:
        """A new session with its analysis job queued; returns (session id, job id)."""
        session_id = new_token()[:10]
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO sessions (id, chat_id, chat_type, owner_id, owner_name, language, status, song_name,
                                         song_file_id, song_unique_id, song_duration, source_message_id)
                   VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)""",
                (session_id, chat_id, chat_type, owner_id, owner_name, language, song_name, song_file_id,
                 song_unique_id, song_duration, source_message_id),
            )
            cur = await conn.execute("INSERT INTO jobs (session_id, kind) VALUES (?, 'analyse')", (session_id,))
            job_id = cur.lastrowid
        return session_id, job_id

    async def get(self, session_id: str) -> dict | None:
        row = await self.db.fetchone("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return dict(row) if row else None

    async def update(self, session_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE sessions SET {cols}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (*fields.values(), session_id),
            )

    async def set_status(self, session_id: str, status: str, *, only_if: tuple[str, ...] | None = None,
                         **fields: Any) -> bool:
        """Move a session to ``status`` (if it is in one of ``only_if``); True when it moved."""
        extra = "".join(f", {k} = ?" for k in fields)
        finished = ", finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')" if status in ("done", "cancelled", "failed") else ""
        sql = (f"UPDATE sessions SET status = ?{extra}{finished}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
               f"WHERE id = ?")
        params: list[Any] = [status, *fields.values(), session_id]
        if only_if:
            sql += f" AND status IN ({', '.join('?' * len(only_if))})"
            params += list(only_if)
        async with self.db.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount > 0

    async def store_analysis(self, session_id: str, analysis: dict, descriptors: np.ndarray, song_path: str,
                             descriptor_tag: str) -> None:
        n = len(analysis["segments"])
        async with self.db.transaction() as conn:
            await conn.execute(
                """UPDATE sessions SET analysis = ?, descriptors = ?, descriptor_tag = ?, n_segments = ?,
                   song_path = ?, status = 'choosing', current_segment = 0 WHERE id = ?""",
                (json.dumps(analysis), np.ascontiguousarray(descriptors, dtype=np.float32).tobytes(), descriptor_tag,
                 n, song_path, session_id),
            )
            await conn.executemany("INSERT OR IGNORE INTO session_segments (session_id, idx) VALUES (?, ?)",
                                   [(session_id, i) for i in range(n)])

    async def store_descriptors(self, session_id: str, descriptors: np.ndarray, descriptor_tag: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sessions SET descriptors = ?, descriptor_tag = ? WHERE id = ?",
                               (np.ascontiguousarray(descriptors, dtype=np.float32).tobytes(), descriptor_tag,
                                session_id))

    async def open_sessions(self, *, chat_id: int | None = None, owner_id: int | None = None) -> list[dict]:
        sql = f"SELECT * FROM sessions WHERE status IN ({', '.join('?' * len(OPEN_STATUSES))})"
        params: list[Any] = list(OPEN_STATUSES)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params.append(owner_id)
        return [dict(r) for r in await self.db.fetchall(sql + " ORDER BY created_at", params)]

    async def history(self, *, owner_id: int | None = None, chat_id: int | None = None, limit: int = 20) -> list[dict]:
        sql = "SELECT * FROM sessions WHERE status = 'done'"
        params: list[Any] = []
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params.append(owner_id)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        sql += " ORDER BY finished_at DESC LIMIT ?"
        return [dict(r) for r in await self.db.fetchall(sql, (*params, limit))]

    # ------------------------------------------------------------------ segments, candidates, buttons
    async def segment(self, session_id: str, idx: int) -> dict | None:
        row = await self.db.fetchone("SELECT * FROM session_segments WHERE session_id = ? AND idx = ?", (session_id, idx))
        return dict(row) if row else None

    async def store_candidates(self, session_id: str, idx: int, candidates: list[dict]) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM candidates WHERE session_id = ? AND idx = ?", (session_id, idx))
            await conn.executemany(
                """INSERT INTO candidates (session_id, idx, rank, library_segment_id, scores, total, stretch)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [(session_id, idx, c["rank"], c["segment_id"], json.dumps(c["scores"]), c["total"], c["stretch"])
                 for c in candidates],
            )

    async def candidates(self, session_id: str, idx: int) -> list[dict]:
        rows = await self.db.fetchall(
            "SELECT * FROM candidates WHERE session_id = ? AND idx = ? ORDER BY rank", (session_id, idx))
        return [{**dict(r), "scores": json.loads(r["scores"])} for r in rows]

    async def make_buttons(self, session_id: str, idx: int | None, actions: list[tuple[str, int | None]]) -> list[Button]:
        """Fresh tokens for the given (action, value) pairs; earlier ones of the same segment stay valid."""
        buttons = [Button(new_token(), session_id, idx, action, value) for action, value in actions]
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO buttons (token, session_id, idx, action, value) VALUES (?, ?, ?, ?, ?)",
                [(b.token, b.session_id, b.idx, b.action, b.value) for b in buttons],
            )
        return buttons

    async def segment_buttons(self, session_id: str, idx: int) -> list[Button]:
        rows = await self.db.fetchall("SELECT * FROM buttons WHERE session_id = ? AND idx = ? ORDER BY rowid",
                                      (session_id, idx))
        return [Button(r["token"], r["session_id"], r["idx"], r["action"], r["value"]) for r in rows]

    async def button(self, token: str) -> Button | None:
        row = await self.db.fetchone("SELECT * FROM buttons WHERE token = ?", (token,))
        return Button(row["token"], row["session_id"], row["idx"], row["action"], row["value"]) if row else None

    async def offer(self, session_id: str, idx: int, preview_message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                """UPDATE session_segments SET status = 'offered', preview_message_id = ?
                   WHERE session_id = ? AND idx = ? AND status = 'pending'""",
                (preview_message_id, session_id, idx))
            await conn.execute("UPDATE sessions SET current_segment = ? WHERE id = ?", (idx, session_id))

    async def record_picks(self, session_id: str, picks: list[tuple[int, int, int]], user_id: int | None,
                           source: str, next_job: tuple[str, int | None] | None = None) -> bool:
        """Record (idx, rank, library segment id) picks in one transaction, with the next job.

        Only segments not yet picked are written; returns False (and writes nothing) when the
        first of them was already picked - a double tap or a stale button.
        """
        async with self.db.transaction() as conn:
            first = picks[0][0]
            cur = await conn.execute(
                "SELECT status FROM session_segments WHERE session_id = ? AND idx = ?", (session_id, first))
            row = await cur.fetchone()
            if row is None or row["status"] == "picked":
                return False
            for idx, rank, segment_id in picks:
                await conn.execute(
                    """UPDATE session_segments SET status = 'picked', picked_rank = ?, picked_segment_id = ?,
                       picked_by = ?, picked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), pick_source = ?
                       WHERE session_id = ? AND idx = ? AND status != 'picked'""",
                    (rank, segment_id, user_id, source, session_id, idx))
                await conn.execute(
                    "INSERT INTO picks (session_id, idx, user_id, rank, library_segment_id, source) VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, idx, user_id, rank, segment_id, source))
            if next_job is not None:
                kind, idx = next_job
                await conn.execute("INSERT INTO jobs (session_id, kind, idx) VALUES (?, ?, ?)", (session_id, kind, idx))
                if kind == "render":
                    await conn.execute("UPDATE sessions SET status = 'rendering' WHERE id = ?", (session_id,))
            return True

    async def picked_segment_ids(self, session_id: str) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT picked_segment_id FROM session_segments WHERE session_id = ? AND status = 'picked' ORDER BY idx",
            (session_id,))
        return [r["picked_segment_id"] for r in rows]

    # ------------------------------------------------------------------ jobs
    async def enqueue(self, session_id: str, kind: str, idx: int | None = None, payload: dict | None = None) -> int:
        async with self.db.transaction() as conn:
            cur = await conn.execute("INSERT INTO jobs (session_id, kind, idx, payload) VALUES (?, ?, ?, ?)",
                                     (session_id, kind, idx, json.dumps(payload or {})))
            return cur.lastrowid

    async def claim_job(self) -> dict | None:
        """The oldest queued job, marked running (atomically)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1")
            row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute(
                """UPDATE jobs SET status = 'running', attempts = attempts + 1,
                   started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?""", (row["id"],))
            return {**dict(row), "payload": json.loads(row["payload"])}

    async def finish_job(self, job_id: int, status: str = "done") -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (status, job_id))

    async def requeue_unfinished(self) -> int:
        """At start: jobs that were running when the process died run again."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
            return cur.rowcount

    async def queue_position(self, job_id: int) -> int:
        """1 = next to run; counts queued and running analysis jobs up to this one."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'analyse' AND status IN ('queued', 'running') AND id <= ?",
            (job_id,))
        return int(row["n"])

    # ------------------------------------------------------------------ groups: mode and votes
    async def chat_mode(self, chat_id: int) -> str:
        row = await self.db.fetchone("SELECT mode FROM chat_settings WHERE chat_id = ?", (chat_id,))
        return row["mode"] if row else "owner"

    async def set_chat_mode(self, chat_id: int, mode: str, user_id: int) -> None:
        """The mode for the chat's new sessions and for its open ones."""
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO chat_settings (chat_id, mode, changed_by) VALUES (?, ?, ?)
                   ON CONFLICT (chat_id) DO UPDATE SET mode = excluded.mode, changed_by = excluded.changed_by,
                   changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')""", (chat_id, mode, user_id))
            await conn.execute(
                f"UPDATE sessions SET mode = ? WHERE chat_id = ? AND status IN ({', '.join('?' * len(OPEN_STATUSES))})",
                (mode, chat_id, *OPEN_STATUSES))

    async def vote(self, session_id: str, idx: int, user_id: int, rank: int) -> bool:
        """One vote per person per segment; a second tap moves it. False if the segment is closed."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT status FROM session_segments WHERE session_id = ? AND idx = ?",
                                     (session_id, idx))
            row = await cur.fetchone()
            if row is None or row["status"] != "offered":
                return False
            await conn.execute(
                """INSERT INTO votes (session_id, idx, user_id, rank) VALUES (?, ?, ?, ?)
                   ON CONFLICT (session_id, idx, user_id) DO UPDATE SET rank = excluded.rank,
                   at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')""", (session_id, idx, user_id, rank))
            await conn.execute("INSERT INTO vote_history (session_id, idx, user_id, rank) VALUES (?, ?, ?, ?)",
                               (session_id, idx, user_id, rank))
            return True

    async def vote_counts(self, session_id: str, idx: int) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT rank, COUNT(*) AS n FROM votes WHERE session_id = ? AND idx = ? GROUP BY rank", (session_id, idx))
        return {r["rank"]: r["n"] for r in rows}

    async def set_vote_deadline(self, session_id: str, idx: int, deadline: float | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE session_segments SET vote_deadline = ? WHERE session_id = ? AND idx = ?",
                               (deadline, session_id, idx))

    async def due_votes(self, now: float) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            """SELECT s.session_id, s.idx FROM session_segments s JOIN sessions x ON x.id = s.session_id
               WHERE s.status = 'offered' AND s.vote_deadline IS NOT NULL AND s.vote_deadline <= ?
               AND x.status = 'choosing'""", (now,))
        return [(r["session_id"], r["idx"]) for r in rows]

    async def close_chat(self, chat_id: int, reason: str) -> int:
        """The bot left the chat: its open sessions end here, quietly."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE sessions SET status = 'cancelled', error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    WHERE chat_id = ? AND status IN ({', '.join('?' * len(OPEN_STATUSES))})""",
                (reason, chat_id, *OPEN_STATUSES))
            await conn.execute(
                "UPDATE jobs SET status = 'done' WHERE status = 'queued' AND session_id IN "
                "(SELECT id FROM sessions WHERE chat_id = ?)", (chat_id,))
            return cur.rowcount

    async def finished_for_user(self, owner_id: int, query: str = "", limit: int = 20) -> list[dict]:
        """The user's finished dances that have an uploaded video (for inline sharing)."""
        rows = await self.db.fetchall(
            """SELECT s.id, s.song_name, s.finished_at, r.mode, f.file_id FROM sessions s
               JOIN results r ON r.session_id = s.id JOIN file_cache f ON f.sha256 = r.video_sha256
               WHERE s.owner_id = ? AND s.status = 'done' AND s.song_name LIKE ?
               ORDER BY s.finished_at DESC, r.mode LIMIT ?""", (owner_id, f"%{query}%", limit))
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ results and the file cache
    async def store_result(self, session_id: str, mode: str, video_path: str, sheet_path: str | None,
                           video_sha256: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO results (session_id, mode, video_path, sheet_path, video_sha256) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (session_id, mode) DO UPDATE SET video_path = excluded.video_path,
                   sheet_path = excluded.sheet_path, video_sha256 = excluded.video_sha256""",
                (session_id, mode, video_path, sheet_path, video_sha256))

    async def result(self, session_id: str, mode: str) -> dict | None:
        row = await self.db.fetchone("SELECT * FROM results WHERE session_id = ? AND mode = ?", (session_id, mode))
        return dict(row) if row else None

    async def cached_file_id(self, sha256: str) -> str | None:
        row = await self.db.fetchone("SELECT file_id FROM file_cache WHERE sha256 = ?", (sha256,))
        return row["file_id"] if row else None

    async def forget_file_ids(self, glob: str, max_length: int = 40) -> int:
        """Drop cached file ids matching ``glob`` (SQLite GLOB) that are shorter than ``max_length``."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM file_cache WHERE file_id GLOB ? AND length(file_id) < ?",
                                     (glob, max_length))
            return cur.rowcount

    async def cache_file_id(self, sha256: str, file_id: str, kind: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO file_cache (sha256, file_id, kind) VALUES (?, ?, ?)",
                               (sha256, file_id, kind))
