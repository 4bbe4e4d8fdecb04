"""The dance library as the bot keeps it, shared by the command line, the bot's start-up and its
workers: the engine computes, ``storage.clips`` stores.

Each clip is analysed by the engine (``choreo_engine.dance.library.ingest_video``, or for real
videos ``choreo_engine.dance.ingest`` through :mod:`.adding`) and stored in one transaction; a
bad file is reported and skipped, never half-stored. Motion levels are mapped
by the library-wide quantiles whenever a clip comes or goes, and stored descriptors made another
way (an older revision or another descriptor) are described again from the clips' videos.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from choreo_engine.music import features
from choreo_engine.dance import library as engine_library
from choreo_engine.dance import motion
from choreo_engine.settings import Settings
from storage import Database
from storage.clips import ClipRepo

log = logging.getLogger(__name__)


def library_motion_levels(sizes: list[np.ndarray]) -> list[list[int]]:
    """Every segment's motion size per beat mapped to levels by the library-wide quantiles."""
    edges = motion.level_edges(np.concatenate(sizes)) if sizes else None
    return [motion.motion_levels(s, edges).tolist() for s in sizes]


class StoredLibrary:
    """The library's clips in the database (``storage.clips``) with the engine work that keeps
    them usable: descriptor tags, motion levels, re-description."""

    def __init__(self, db: Database) -> None:
        self.clips = ClipRepo(db)

    @property
    def videos_dir(self) -> Path:
        return self.clips.videos_dir

    async def has_clip(self, source_sha256: str) -> bool:
        return await self.clips.has_clip(source_sha256)

    async def count_segments(self) -> int:
        return await self.clips.count_segments()

    async def version(self) -> int:
        return await self.clips.version()

    async def add_clip(self, clip: engine_library.IngestedClip, kind: str = "video",
                       descriptor: str = "default") -> int | None:
        """Store an ingested clip (None when it is already there); every level is mapped again."""
        return await self.clips.add_clip(clip, kind, features.descriptor_tag(descriptor), library_motion_levels)

    async def remove_clip(self, clip: int | str) -> str | None:
        """Stop offering a clip (a soft delete: sessions that picked it still render it); its name."""
        return await self.clips.remove_clip(clip, library_motion_levels)

    async def load(self, descriptor: str = "default") -> engine_library.Library:
        """The segments described by ``descriptor`` (as it is now), ready for planning."""
        return await self.clips.load(features.descriptor_tag(descriptor))

    async def load_segments(self, segment_ids: list[int]) -> engine_library.Library:
        """Exactly these segments, removed clips' too (for rendering what a session was offered)."""
        return await self.clips.load_segments(segment_ids)

    async def refresh_descriptors(self, descriptor: str = "default") -> int:
        """Describe again the clips whose stored descriptors were made another way.

        A descriptor's computation changed (``features.DESCRIPTOR_REVISIONS``) or another one was
        chosen: old numbers cannot be compared with a song's new ones, so each such clip is
        described again from the sound kept in its stored video, in one transaction per clip.
        A clip that cannot be (stored without sound before sound was kept) stays out of
        :meth:`load` and is counted in the stats. Returns the number of clips described again.
        """
        tag = features.descriptor_tag(descriptor)
        unavailable = f"{tag}-unavailable"  # tried for this descriptor and failed: not tried again
        clips = await self.clips.clips_described_otherwise(tag, unavailable)
        if clips:
            log.info("describing %d library clips again for the %s descriptor", len(clips), tag)
        redone = 0
        for clip in clips:
            ranges = await self.clips.music_ranges(clip.id)
            try:
                descriptors = await asyncio.to_thread(
                    engine_library.describe_stored_segments, clip.video_path,
                    [(r.start, r.end, np.array(r.beats)) for r in ranges], descriptor)
            except Exception as exc:  # noqa: BLE001 - one clip must not stop the library from loading
                log.warning("clip %s (%s) cannot be described again (%s); it is left out until its video is "
                            "added again", clip.id, clip.name, getattr(exc, "message", exc))
                await self.clips.mark_clip(clip.id, unavailable)
                continue
            if await self.clips.store_descriptors(clip, tag, ranges, descriptors):
                redone += 1
        return redone


async def open_library(settings: Settings | None = None) -> tuple[Database, StoredLibrary]:
    settings = settings or Settings.from_env()
    db = await Database.open(settings.database)
    repo = StoredLibrary(db)
    await repo.clips.clean_orphans()
    return db, repo


async def add_videos(paths: Iterable[str | os.PathLike], settings: Settings | None = None,
                     show_progress: bool = False, report=None) -> list:
    """Add dance videos (files, folders, links) to the library: :func:`bot.admin.adding.add_sources`."""
    from .adding import add_sources

    return await add_sources(paths, settings, show_progress=show_progress, report=report)


async def library_stats(settings: Settings | None = None) -> dict:
    """The library's figures; ``stale_clips`` are the clips left out because they cannot be
    described by the current descriptor (stored without sound by an early version)."""
    settings = settings or Settings.from_env()
    db, repo = await open_library(settings)
    try:
        await repo.refresh_descriptors(settings.descriptor)
        stats = await repo.clips.stats()
        current = features.descriptor_tag(settings.descriptor)
        stats["stale_clips"] = [c["name"] for c in stats["clip_list"] if c["descriptor"] != current]
        return stats
    finally:
        await db.close()


async def remove_clip(clip: str, settings: Settings | None = None) -> str | None:
    """Remove a clip (id, name or source hash; see ``ClipRepo.remove_clip``); its name, or None."""
    db, repo = await open_library(settings)
    try:
        return await repo.remove_clip(clip)
    finally:
        await db.close()


async def export_csv(path: str | os.PathLike, settings: Settings | None = None) -> int:
    import pandas as pd

    db, repo = await open_library(settings)
    try:
        rows = await repo.clips.export_rows()
    finally:
        await db.close()
    pd.DataFrame(rows).to_csv(path, index=False)
    return len(rows)
