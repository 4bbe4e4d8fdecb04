"""Build the procedural starter library (``choreo library demo``; automatic on first start).

Each song is rendered and ingested in a worker process (``choreo_engine.starter.build``), and stored
here, in the parent, one transaction per clip: a build interrupted half-way keeps the clips it
finished and the next build adds only the missing ones.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from choreo_engine.starter import build as starter, synth
from choreo_engine.settings import Settings

from .library import open_library

DEFAULT_SONGS = 40


async def build(n_songs: int = DEFAULT_SONGS, workers: int = 2, show_progress: bool = False,
                settings: Settings | None = None, seed: int | None = None) -> dict:
    settings = settings or Settings.from_env()
    seed = settings.seed if seed is None else seed
    db, repo = await open_library(settings)
    started = time.perf_counter()
    added, segments, sources = 0, 0, {}
    try:
        existing = await repo.clips.clip_names("demo")
        plan = [(i, item) for i, item in enumerate(synth.demo_song_plan(n_songs, seed))
                if starter.demo_name(item, i) not in existing]
        bar = None
        if show_progress and plan:
            from ..progress import progress_bar

            bar = progress_bar(total=len(plan), desc="starter library", unit="song")
        loop = asyncio.get_running_loop()
        with tempfile.TemporaryDirectory() as work, ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [
                loop.run_in_executor(pool, starter.build_and_ingest, item, i, work, str(repo.videos_dir),
                                     settings.descriptor)
                for i, item in plan
            ]
            # Stored in plan order, not as they finish, so a library is the same on every machine
            # (row order feeds the index's fit and so the plans).
            for future in futures:
                clip = await future
                if await repo.add_clip(clip, kind="demo", descriptor=settings.descriptor) is not None:
                    added += 1
                    segments += len(clip.segments)
                    sources[clip.pose_source] = sources.get(clip.pose_source, 0) + 1
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
    finally:
        await db.close()
    return {"added": added, "segments": segments, "pose_sources": sources,
            "seconds": time.perf_counter() - started, "songs_planned": n_songs}


async def ensure_library(settings: Settings | None = None, n_songs: int = DEFAULT_SONGS,
                         show_progress: bool = False) -> dict | None:
    """Build the starter library when the library is empty (first start); None when not needed."""
    db, repo = await open_library(settings)
    try:
        count = await repo.count_segments()
    finally:
        await db.close()
    if count:
        return None
    if show_progress:
        print("First start: building the starter dance library (a few minutes, only once)...", flush=True)
    return await build(n_songs, settings=settings, show_progress=show_progress)
