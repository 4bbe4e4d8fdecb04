"""The job queue: engine work for sessions (analyse, offer a part, the auto path, render),
claimed by priority, then in order.

A job's row is written in the same transaction as the session change that asks for it
(:func:`insert_job`), so a crash never leaves a session waiting for a job nobody queued.
"""

from __future__ import annotations

import json

from .db import NOW, Database, Statements
from .rows import Job, JobKind, JobStatus


async def insert_job(conn: Statements, session_id: str, kind: JobKind, idx: int | None = None,
                     payload: dict | None = None) -> int:
    """Queue a job inside the caller's transaction; returns its id."""
    cur = await conn.execute("INSERT INTO jobs (session_id, kind, idx, payload) VALUES (?, ?, ?, ?) RETURNING id",
                             (session_id, kind, idx, json.dumps(payload or {})))
    return (await cur.fetchone())["id"]


class JobRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, session_id: str, kind: JobKind, idx: int | None = None, payload: dict | None = None) -> int:
        async with self.db.transaction() as conn:
            return await insert_job(conn, session_id, kind, idx, payload)

    async def claim(self) -> Job | None:
        """The next queued job, marked running (atomically), with its attempts counted.

        What a person waits for goes first: a chosen part's next preview, the auto path and
        renders before new songs' analyses and the sheets sent after dances, and work made ahead
        (pieces of a final) last; in order
        of queueing within each. The claim is a
        conditional update, so of two processes claiming at once one gets the job and the other
        looks again.
        """
        while True:
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "SELECT * FROM jobs WHERE status = ? ORDER BY CASE WHEN kind IN (?, ?) THEN 1 WHEN kind = ? THEN 2 "
                    "ELSE 0 END, id LIMIT 1", (JobStatus.QUEUED, JobKind.ANALYSE, JobKind.SHEET, JobKind.PIECES))
                row = await cur.fetchone()
                if row is None:
                    return None
                cur = await conn.execute(
                    f"UPDATE jobs SET status = ?, attempts = attempts + 1, started_at = {NOW} WHERE id = ? AND status = ?",
                    (JobStatus.RUNNING, row["id"], JobStatus.QUEUED))
                if cur.rowcount:
                    return Job.of({**dict(row), "attempts": row["attempts"] + 1, "status": JobStatus.RUNNING})

    async def finish(self, job_id: int, status: JobStatus = JobStatus.DONE) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(f"UPDATE jobs SET status = ?, finished_at = {NOW} WHERE id = ?", (status, job_id))

    async def retry(self, job_id: int) -> None:
        """Queue a job that met a passing failure again (its attempts stay counted)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE jobs SET status = ? WHERE id = ? AND status = ?",
                               (JobStatus.QUEUED, job_id, JobStatus.RUNNING))

    async def requeue_unfinished(self) -> int:
        """At start: jobs that were running when the process died run again."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE jobs SET status = ? WHERE status = ?", (JobStatus.QUEUED, JobStatus.RUNNING))
            return cur.rowcount

    async def enqueue_unless_open(self, session_id: str, kind: JobKind, idx: int | None,
                                  payload: dict | None = None) -> bool:
        """Queue a job unless one of this kind and part is already queued or running for the
        session (checked and queued in one transaction); True when queued."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM jobs WHERE session_id = ? AND kind = ? AND idx = ? AND status IN (?, ?)",
                (session_id, kind, idx, JobStatus.QUEUED, JobStatus.RUNNING))
            if await cur.fetchone() is not None:
                return False
            await insert_job(conn, session_id, kind, idx, payload)
            return True

    async def busy(self, session_id: str) -> bool:
        """Whether a job is queued or running besides pieces made ahead and the analysis of
        ``session_id`` (the job that queued work ahead for it may not be marked done yet)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE status IN (?, ?) AND kind <> ? AND NOT (kind = ? AND session_id = ?)",
            (JobStatus.QUEUED, JobStatus.RUNNING, JobKind.PIECES, JobKind.ANALYSE, session_id))
        return int(row["n"]) > 0

    async def queue_position(self, job_id: int) -> int:
        """1 = next to run; counts queued and running analysis jobs up to this one."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = ? AND status IN (?, ?) AND id <= ?",
            (JobKind.ANALYSE, JobStatus.QUEUED, JobStatus.RUNNING, job_id))
        return int(row["n"])
