"""Library administration shared by the command line and the bot's start-up.

Each video is analysed by the engine (``choreo_engine.dance.library.ingest_video``) and stored by
``storage`` in one transaction; a bad file is reported and skipped, never half-stored.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from choreo_engine.music import features
from choreo_engine.dance import library as engine_library
from choreo_engine.errors import ChoreoError
from choreo_engine.settings import Settings
from storage import Database
from storage.library import LibraryRepo


@dataclass
class AddResult:
    path: str
    status: str  # "added", "already there", "failed"
    clip_id: int | None = None
    segments: int = 0
    message: str = ""
    pose_source: str = ""


async def open_library(settings: Settings | None = None) -> tuple[Database, LibraryRepo]:
    settings = settings or Settings.from_env()
    db = await Database.open(settings.db_path)
    repo = LibraryRepo(db)
    await repo.clean_orphans()
    return db, repo


def _ingest(path: str, video_dir: str, descriptor: str, show_progress: bool) -> engine_library.IngestedClip:
    """Run in a worker process: pure computation plus the normalised video copy."""
    progress = None
    bar = None
    if show_progress:
        from tqdm import tqdm

        from choreo_engine.dance.pose import read_frames

        _, _, count, _ = read_frames(path)
        bar = tqdm(total=count or None, desc=Path(path).name[:28], unit="frame", leave=False)
        progress = bar.update
    try:
        return engine_library.ingest_video(path, video_dir, descriptor, progress=progress)
    finally:
        if bar is not None:
            bar.close()


async def add_videos(
    paths: Iterable[str | os.PathLike],
    settings: Settings | None = None,
    show_progress: bool = False,
    report: Callable[[AddResult], None] | None = None,
) -> list[AddResult]:
    """Add dance videos to the library; one bad file does not stop the others."""
    settings = settings or Settings.from_env()
    db, repo = await open_library(settings)
    results = []
    loop = asyncio.get_running_loop()
    try:
        await repo.refresh_descriptors(settings.descriptor)  # new clips and old ones described alike
        with ProcessPoolExecutor(max_workers=1) as pool:
            for raw in paths:
                path = str(raw)
                try:
                    if not Path(path).is_file():
                        raise FileNotFoundError(path)
                    sha = engine_library.file_sha256(path)
                    if await repo.has_clip(sha):
                        result = AddResult(path, "already there", message="already in the library")
                    else:
                        clip = await loop.run_in_executor(
                            pool, _ingest, path, str(repo.videos_dir), settings.descriptor, show_progress
                        )
                        clip_id = await repo.add_clip(clip, descriptor=settings.descriptor)
                        result = AddResult(path, "added", clip_id, len(clip.segments), pose_source=clip.pose_source)
                except ChoreoError as exc:
                    result = AddResult(path, "failed", message=exc.message)
                except FileNotFoundError:
                    result = AddResult(path, "failed", message="no such file")
                except Exception as exc:  # one broken file must not stop the others
                    result = AddResult(path, "failed", message=f"could not process this file ({type(exc).__name__})")
                await repo.clean_orphans()
                results.append(result)
                if report:
                    report(result)
    finally:
        await db.close()
    return results


async def library_stats(settings: Settings | None = None) -> dict:
    """The library's figures; ``stale_clips`` are the clips left out because they cannot be
    described by the current descriptor (stored without sound by an early version)."""
    settings = settings or Settings.from_env()
    db, repo = await open_library(settings)
    try:
        await repo.refresh_descriptors(settings.descriptor)
        stats = await repo.stats()
        current = features.descriptor_tag(settings.descriptor)
        stats["stale_clips"] = [c["name"] for c in stats["clip_list"] if c["descriptor"] != current]
        return stats
    finally:
        await db.close()


async def remove_clip(clip: str, settings: Settings | None = None) -> bool:
    db, repo = await open_library(settings)
    try:
        return await repo.remove_clip(clip)
    finally:
        await db.close()


async def export_csv(path: str | os.PathLike, settings: Settings | None = None) -> int:
    import pandas as pd

    db, repo = await open_library(settings)
    try:
        rows = await repo.export_rows()
    finally:
        await db.close()
    pd.DataFrame(rows).to_csv(path, index=False)
    return len(rows)
