"""``choreo bench soak``: simulated days of use against the retention sweep and its budget.

Songs arrive at random (Poisson, ``songs_per_hour``); each is one session made through the real
repositories (``storage``) with its files in ``sessions/<id>/`` as the bot writes them: the song
(median ~6 MB, at most 20 MB), a ~2 MB preview per offered part, and for a delivered dance a
final video of up to 50 MB (a quarter of them in both modes) and its sheet. A share of the
songs is cancelled or fails part-way. Time is simulated: rows carry back-dated timestamps, files
back-dated modification times, and the sweep (``storage.retention.DataDirSweep``, the one the
bot runs) is called every ``sweep_minutes`` of simulated time with that time as its clock.
Files are sparse: their apparent size is what the sweep counts, no disk space is used.

Returns the data directory's size over time against the budget, and the end figures.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from storage import Database
from storage.files import FileCacheRepo
from storage.jobs import JobRepo
from storage.retention import PREVIEW_NAME, SESSIONS_DIR, DataDirSweep, RetentionPolicy, iso, tree_bytes
from storage.rows import SessionStatus
from storage.sessions import SessionRepo

MB = 1 << 20
HOUR = 3600.0


@dataclass(order=True)
class _Event:
    at: float
    order: int
    kind: str = field(compare=False)  # "song", "preview", "finish"
    song: "_Song" = field(compare=False)
    part: int = field(default=0, compare=False)


@dataclass
class _Song:
    arrives: float
    outcome: SessionStatus
    song_bytes: int
    previews: int  # parts offered before it ended
    minutes: float  # from arrival to its end
    finals: list[int]  # bytes of each final video (done only)
    session_id: str = ""


def _song(rng: random.Random, arrives: float, cancelled: float, failed: float) -> _Song:
    draw = rng.random()
    outcome = (SessionStatus.FAILED if draw < failed else
               SessionStatus.CANCELLED if draw < failed + cancelled else SessionStatus.DONE)
    song_bytes = int(min(20 * MB, max(0.5 * MB, rng.lognormvariate(np.log(6 * MB), 0.5))))
    if outcome == SessionStatus.FAILED:  # mostly at the analysis, sometimes later
        previews = 0 if rng.random() < 0.7 else rng.randint(1, 4)
    else:
        previews = rng.randint(1, 12)
    finals = []
    if outcome == SessionStatus.DONE:
        finals = [int(rng.uniform(10, 50) * MB) for _ in range(2 if rng.random() < 0.25 else 1)]
    return _Song(arrives, outcome, song_bytes, previews, rng.uniform(2, 20), finals)


def _sparse(path: Path, size: int, at: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    os.utime(path, (at, at))


class _Soak:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.sessions = SessionRepo(db)
        self.jobs = JobRepo(db)
        self.files = FileCacheRepo(db)
        self.sweep = DataDirSweep(db)
        self.folder = db.media_dir / SESSIONS_DIR

    async def start(self, song: _Song, n: int) -> None:
        song.session_id, job_id = await self.sessions.create(
            chat_id=1000 + n % 50, chat_type="private", owner_id=1000 + n % 50, owner_name=f"user{n % 50}",
            language="en", song_name=f"song {n}", song_file_id=f"file-{n}", song_unique_id=f"u{n}",
            song_duration=200.0, source_message_id=n)
        await self.jobs.finish(job_id)  # its analysis ran in the simulated bot
        path = self.folder / song.session_id / "song.mp3"
        _sparse(path, song.song_bytes, song.arrives)
        if song.outcome != SessionStatus.FAILED or song.previews:
            parts = max(song.previews, 1)
            await self.sessions.store_analysis(song.session_id, {"segments": [{}] * parts},
                                               np.zeros((parts, 4), dtype=np.float32), str(path), "soak")
        await self.sessions.update(song.session_id, created_at=iso(song.arrives))

    def preview(self, song: _Song, part: int, at: float) -> None:
        _sparse(self.folder / song.session_id / PREVIEW_NAME.format(part + 1), int(2 * MB), at)

    async def finish(self, song: _Song, at: float) -> None:
        folder = self.folder / song.session_id
        for mode, size in zip(("clips", "avatar"), song.finals):
            video = folder / f"dance-{mode}.mp4"
            _sparse(video, size, at)
            _sparse(folder / "sheet.png", 300_000, at)
            sha = f"{song.session_id}-{mode}"
            await self.sessions.store_result(song.session_id, mode, str(video), str(folder / "sheet.png"), sha)
            await self.files.remember(sha, f"video-{sha}", "video")
        await self.sessions.set_status(song.session_id, song.outcome)
        await self.sessions.update(song.session_id, finished_at=iso(at))


async def _run(data_dir: Path, days: float, songs_per_hour: float, cancelled: float, failed: float,
               policy: RetentionPolicy, sweep_minutes: float, sample_hours: float, seed: int) -> dict:
    rng = random.Random(seed)
    start = time.time()  # simulated time runs ahead of the clock, so back-dated files stay "old"
    end = start + days * 24 * HOUR
    events: list[_Event] = []
    t, n = start, 0
    while True:
        t += rng.expovariate(songs_per_hour / HOUR)
        if t >= end:
            break
        song = _song(rng, t, cancelled, failed)
        heapq.heappush(events, _Event(t, n, "song", song))
        step = song.minutes * 60 / (song.previews + 1)
        for part in range(song.previews):
            heapq.heappush(events, _Event(t + step * (part + 1), n, "preview", song, part))
        heapq.heappush(events, _Event(t + song.minutes * 60, n, "finish", song))
        n += 1
    counts = {s: 0 for s in ("done", "cancelled", "failed")}
    written = 0
    curve, sweep_seconds = [], []
    removed: dict[str, int] = {}
    peak = 0
    over_budget_sweeps = 0
    next_sample = start
    async with await Database.open(data_dir / "choreo.db") as db:
        soak = _Soak(db)
        sweep_at = start + sweep_minutes * 60
        while sweep_at <= end:
            while events and events[0].at <= sweep_at:
                ev = heapq.heappop(events)
                if ev.kind == "song":
                    await soak.start(ev.song, ev.order)
                    written += ev.song.song_bytes
                elif ev.kind == "preview":
                    soak.preview(ev.song, ev.part, ev.at)
                    written += 2 * MB
                else:
                    await soak.finish(ev.song, ev.at)
                    written += sum(ev.song.finals) + (300_000 if ev.song.finals else 0)
                    counts[ev.song.outcome.value] += 1
            t0 = time.perf_counter()
            report = await soak.sweep.sweep(policy, now=sweep_at)
            sweep_seconds.append(time.perf_counter() - t0)
            for what, k in report.removed.items():
                removed[what] = removed.get(what, 0) + k
            peak = max(peak, report.bytes_before)
            over_budget_sweeps += report.over_budget
            if sweep_at >= next_sample:
                curve.append({"hour": round((sweep_at - start) / HOUR, 2),
                              "before_sweep_mb": round(report.bytes_before / MB, 1),
                              "after_sweep_mb": round(report.bytes_after / MB, 1)})
                next_sample += sample_hours * HOUR
            sweep_at += sweep_minutes * 60
        rows = await db.fetchone("SELECT COUNT(*) FROM sessions")
        db_bytes = sum(p.stat().st_size for p in data_dir.glob("choreo.db*"))
    budget = policy.budget_bytes
    final = tree_bytes(data_dir)
    return {
        "curve": curve,
        "end": {
            "data_dir_mb": round(final / MB, 1),
            "budget_mb": round(budget / MB, 1) if budget else None,
            "peak_before_sweep_mb": round(peak / MB, 1),
            "peak_over_budget_mb": round(max(0, peak - budget) / MB, 1) if budget else None,
            "sweeps_ending_over_budget": over_budget_sweeps,
            "written_without_retention_mb": round(written / MB, 1),
            "songs": n, "finished": counts,
            "session_folders_left": len(list((data_dir / SESSIONS_DIR).iterdir())) if (data_dir / SESSIONS_DIR).exists() else 0,
            "session_rows_left": rows[0],
            "database_mb": round(db_bytes / MB, 2),
            "removed": removed,
            "sweeps": len(sweep_seconds),
            "sweep_seconds": {"mean": round(float(np.mean(sweep_seconds)), 4),
                              "max": round(float(np.max(sweep_seconds)), 4)} if sweep_seconds else None,
        },
    }


def bench_soak(days: float = 7.0, songs_per_hour: float = 20.0, cancelled: float = 0.15, failed: float = 0.05,
               budget_mb: float | None = 10240.0, keep_done_hours: float = 168.0, keep_failed_hours: float = 24.0,
               keep_cancelled_hours: float = 24.0, keep_rows_days: float | None = 90.0, sweep_minutes: float = 15.0,
               sample_hours: float = 6.0, seed: int = 0, data_dir: str | os.PathLike | None = None) -> dict:
    """Simulated ``days`` of ``songs_per_hour`` (see the module docstring); JSON-ready."""
    policy = RetentionPolicy(keep_done=keep_done_hours * HOUR, keep_failed=keep_failed_hours * HOUR,
                             keep_cancelled=keep_cancelled_hours * HOUR,
                             budget_bytes=int(budget_mb * MB) if budget_mb else None,
                             keep_rows=keep_rows_days * 24 * HOUR if keep_rows_days else None)
    settings = {"days": days, "songs_per_hour": songs_per_hour, "cancelled_share": cancelled, "failed_share": failed,
                "budget_mb": budget_mb, "keep_hours": {"done": keep_done_hours, "failed": keep_failed_hours,
                                                       "cancelled": keep_cancelled_hours},
                "keep_rows_days": keep_rows_days, "sweep_minutes": sweep_minutes, "seed": seed,
                "sizes": "song lognormal median 6 MB (0.5-20 MB); preview 2 MB per offered part (1-12); final "
                         "10-50 MB, 25% in both modes; sheet 0.3 MB; files sparse (apparent sizes)"}
    t0 = time.perf_counter()
    # in memory when it can be: thousands of small commits, each synced, are what a disk is slow at
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="choreo-soak-", dir=shm) as tmp:
        result = asyncio.run(_run(Path(data_dir or tmp), days, songs_per_hour, cancelled, failed, policy,
                                  sweep_minutes, sample_hours, seed))
    return {"benchmark": "soak", "settings": settings, **result, "seconds": round(time.perf_counter() - t0, 1)}
