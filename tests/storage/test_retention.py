"""The retention sweep and the library's orphan sweep on a real database and real files (issue 12:
bounded disk, orphans).

Times are simulated: the sweep runs at ``NOW``, a few hours after the files were really written,
so a file counts as old unless its modification time is set close to ``NOW``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from storage import Database
from storage.clips import ClipRepo
from storage.jobs import JobRepo
from storage.retention import PREVIEW_NAME, DataDirSweep, RetentionPolicy, iso
from storage.rows import JobKind, SessionStatus
from storage.sessions import SessionRepo

HOUR = 3600.0
DAY = 24 * HOUR
NOW = time.time() + 3 * HOUR
POLICY = RetentionPolicy(keep_done=2 * DAY, keep_failed=1 * HOUR, keep_cancelled=2 * HOUR, budget_bytes=None,
                         keep_rows=30 * DAY)


def write(path: Path, size: int = 1000, age: float | None = None) -> Path:
    """A file of ``size`` bytes; ``age``: seconds before NOW it was last written (default: hours)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    if age is not None:
        os.utime(path, (NOW - age, NOW - age))
    return path


class Sessions:
    """Sessions made through the real repositories, finished at simulated times."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.repo = SessionRepo(db)
        self.jobs = JobRepo(db)

    async def make(self, status: SessionStatus, finished_ago: float | None = None, files: dict[str, int] | None = None,
                   segments: int = 3, running_job: bool = False) -> Path:
        sid, job_id = await self.repo.create(chat_id=1, chat_type="private", owner_id=7, owner_name="Ann",
                                             language="en", song_name="song", song_file_id="f", song_unique_id="u",
                                             song_duration=30.0, source_message_id=1)
        await self.jobs.finish(job_id)
        folder = self.db.media_dir / "sessions" / sid
        await self.repo.set_status(sid, SessionStatus.ANALYSING)  # an analysis is stored only while analysing
        await self.repo.store_analysis(sid, {"segments": [{}] * segments}, np.zeros((segments, 4)),
                                       str(folder / "song.mp3"), "t")
        for name, size in ({"song.mp3": 1000} if files is None else files).items():
            write(folder / name, size)
        if running_job:
            await self.jobs.enqueue(sid, JobKind.RENDER)
            await self.jobs.claim()
        if status != SessionStatus.CHOOSING:
            await self.repo.set_status(sid, status)
        if finished_ago is not None:
            await self.repo.update(sid, finished_at=iso(NOW - finished_ago))
        return folder


def test_sweep_removes_what_expired_and_keeps_what_is_needed(tmp_path, database):
    async def scenario():
        async with await database.open() as db:
            s = Sessions(db)
            done_old = await s.make(SessionStatus.DONE, 3 * DAY, {"song.mp3": 5000, "dance-clips.mp4": 9000,
                                                                   "sheet.png": 500, PREVIEW_NAME.format(1): 2000,
                                                                   "pieces/piece-001-ab12.mp4": 700})
            done_new = await s.make(SessionStatus.DONE, 1 * DAY, {"song.mp3": 1000, "dance-clips.mp4": 1000,
                                                                   PREVIEW_NAME.format(1): 2000})
            failed = await s.make(SessionStatus.FAILED, 2 * HOUR)  # over its 1 h
            cancelled = await s.make(SessionStatus.CANCELLED, 1.5 * HOUR)  # within its 2 h
            busy = await s.make(SessionStatus.CANCELLED, 3 * DAY, running_job=True)  # a render still writing
            writing = await s.make(SessionStatus.DONE, 3 * DAY)
            write(writing / "dance-avatar.mp4", age=10)  # written 10 s ago
            opened = await s.make(SessionStatus.CHOOSING, files={
                "song.mp3": 4000, PREVIEW_NAME.format(1): 2000, PREVIEW_NAME.format(2): 2000,
                "dance-clips.part.mp4": 3000, "sheet.png.tmp": 10, "pieces/piece-001-ab12.mp4": 700,
                "pieces/piece-002-cd34.4242.part.mp4": 300})
            write(opened / "render-clips.progress.tmp", 10, age=60)  # a temporary file being written
            await s.repo.offer(opened.name, 0)  # part 1 was sent; part 2's preview is not yet
            await s.repo.preview_sent(opened.name, 0, 101)
            orphan = write(tmp_path / "data" / "sessions" / "no-such-session" / "song.mp3").parent
            young_orphan = write(tmp_path / "data" / "sessions" / "being-made" / "song.mp3", age=120).parent
            index = tmp_path / "data" / "index"
            current = write(index / "music-index-v0-default-s0.pkl")
            old_version = write(index / "music-index-v2-default-s0.pkl")
            leftover = write(index / "music-index-v0-default-s0.4242.part")

            # rows: a failed and a done session finished 40 days ago, their folders long gone
            failed_ancient = await s.make(SessionStatus.FAILED, 40 * DAY, files={})
            done_ancient = await s.make(SessionStatus.DONE, 40 * DAY, files={})
            await s.repo.store_candidates(done_ancient.name, 0, [
                {"rank": 1, "segment_id": 5, "scores": {}, "total": 0.5, "stretch": 1.0}])
            await s.repo.store_result(done_ancient.name, "clips", "gone.mp4", None, "abc")

            report = await DataDirSweep(db).sweep(POLICY, now=NOW)

            for gone in (done_old, failed, orphan, old_version, leftover, done_new / PREVIEW_NAME.format(1),
                         opened / PREVIEW_NAME.format(1), opened / "dance-clips.part.mp4", opened / "sheet.png.tmp",
                         opened / "pieces" / "piece-002-cd34.4242.part.mp4"):
                assert not gone.exists(), gone
            for kept in (done_new / "song.mp3", done_new / "dance-clips.mp4", cancelled, busy, writing / "song.mp3", young_orphan, current, opened / "song.mp3",
                         opened / PREVIEW_NAME.format(2), opened / "render-clips.progress.tmp",
                         opened / "pieces" / "piece-001-ab12.mp4"):
                assert kept.exists(), kept
            assert report.removed == {"expired_done": 1, "expired_failed": 1, "orphan_folders": 1,
                                      "temporary_files": 3, "sent_previews": 2, "old_indexes": 2}
            assert report.freed_bytes >= 5000 + 9000 + 500 + 2000 + 700 + 1000 + 3000 + 300 + 2000 + 2000
            assert report.bytes_after <= report.bytes_before - report.freed_bytes
            if database.dialect == "sqlite":  # and the WAL was folded back into the database
                assert (tmp_path / "data" / "choreo.db-wal").stat().st_size == 0
            failed_id, done_id, done_old_id = failed_ancient.name, done_ancient.name, done_old.name
            statuses = dict(await db.fetchall("SELECT id, status FROM sessions"))
            assert failed_id not in statuses  # the whole failed session went
            assert statuses[done_id] == "done" and statuses[done_old_id] == "done"  # /history still lists them
            count = lambda sql, *params: db.fetchone(f"SELECT COUNT(*) FROM {sql}", params)
            assert (await count("candidates WHERE session_id = ?", done_id))[0] == 0
            assert (await count("results WHERE session_id = ?", done_id))[0] == 1
            assert (await count("jobs WHERE session_id IN (?, ?)", failed_id, done_id))[0] == 0

    asyncio.run(scenario())


def test_idle_pieces_of_an_open_session_go(tmp_path, database):
    """Pieces made ahead for a song left open go once untouched for ``keep_open_pieces``; the
    song and its folder stay, and pieces being made (a job running) are never touched."""
    async def scenario():
        async with await database.open() as db:
            s = Sessions(db)
            files = {"song.mp3": 4000, "pieces/piece-001-ab12.mp4": 700, "pieces/piece-001-002-cd34.mp4": 300}
            idle = await s.make(SessionStatus.CHOOSING, files=files)
            busy = await s.make(SessionStatus.CHOOSING, files=files, running_job=True)
            # written just now: 3 h before NOW
            kept = await DataDirSweep(db).sweep(dataclasses.replace(POLICY, keep_open_pieces=4 * HOUR), now=NOW)
            assert (idle / "pieces").is_dir() and "idle_pieces" not in kept.removed
            swept = await DataDirSweep(db).sweep(dataclasses.replace(POLICY, keep_open_pieces=2 * HOUR), now=NOW)
            assert not (idle / "pieces").exists() and (idle / "song.mp3").exists()
            assert (busy / "pieces" / "piece-001-ab12.mp4").exists()
            assert swept.removed["idle_pieces"] == 1 and swept.freed_bytes >= 1000

    asyncio.run(scenario())


def test_budget_evicts_the_oldest_finished_first(tmp_path, database):
    async def scenario():
        async with await database.open() as db:
            s = Sessions(db)
            opened = await s.make(SessionStatus.CHOOSING, files={"song.mp3": 1 << 20})  # open: never evicted
            done = [await s.make(SessionStatus.DONE if i % 2 else SessionStatus.CANCELLED, (5 - i) * HOUR,
                                 {"dance-clips.mp4": 1 << 20}) for i in range(5)]
            sweep = DataDirSweep(db)
            total = (await sweep.sweep(RetentionPolicy(keep_done=DAY, keep_cancelled=DAY), now=NOW)).bytes_after
            budget = total - int(2.5 * (1 << 20))
            report = await sweep.sweep(RetentionPolicy(keep_done=DAY, keep_cancelled=DAY, budget_bytes=budget),
                                       now=NOW)
            assert [d.exists() for d in done] == [False, False, False, True, True]  # oldest first
            assert (opened / "song.mp3").exists()
            assert report.removed == {"evicted": 3}
            assert report.bytes_after <= budget and not report.over_budget
            # a budget nothing more can meet: the open session's song stays, and the sweep says so
            report = await sweep.sweep(RetentionPolicy(keep_done=DAY, keep_cancelled=DAY, budget_bytes=1000), now=NOW)
            assert [d.exists() for d in done] == [False] * 5 and (opened / "song.mp3").exists()
            assert report.over_budget

    asyncio.run(scenario())


def test_clean_orphans_spares_young_and_temporary_files(tmp_path, database):
    """Another process may be writing a library file (a temporary name, then a rename, then the
    commit); only files unreferenced and unchanged for the grace period go."""

    async def scenario():
        async with await database.open() as db:
            repo = ClipRepo(db)
            async with db.transaction() as conn:
                await conn.execute(
                    """INSERT INTO clips (source_sha256, name, kind, duration, fps, width, height, tempo, video_file,
                                      poses_file, pose_source, detection_rate)
                   VALUES ('s', 'c', 'video', 1, 25, 64, 64, 120, 'videos/used.mp4', 'poses/used.npz', 'mediapipe', 1)""")
            used = [write(repo.videos_dir / "used.mp4"), write(repo.poses_dir / "used.npz")]
            old = [write(repo.poses_dir / "crashed.npz"), write(repo.videos_dir / "crashed.part.mp4")]
            young = [write(repo.poses_dir / "just-renamed.npz", age=30),
                     write(repo.videos_dir / "being-written.part.mp4", age=5),
                     write(repo.poses_dir / "being-written.part.npz", age=1200)]
            removed = await repo.clean_orphans(now=NOW)
            assert removed == 2
            assert not any(p.exists() for p in old)
            assert all(p.exists() for p in used + young)
            # once the grace period is over, the leftovers go too
            assert await repo.clean_orphans(now=NOW + 2 * HOUR) == 3

    asyncio.run(scenario())
