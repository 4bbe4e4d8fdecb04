"""The engine's work for one song, as the command line and the bot's workers call it.

Library and index are loaded once per process and reloaded only when the library changes
(its version in the database moves); the fitted index is cached beside the database.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from choreo_engine.music import audio, features
from choreo_engine.music.index import MusicIndex
from choreo_engine.dance.library import Library
from choreo_engine.plan.planner import Planner, SongContext
from choreo_engine.plan.scoring import Weights
from choreo_engine.settings import Settings
from storage import Database

from .admin.library import StoredLibrary


@dataclass
class LoadedLibrary:
    library: Library
    index: MusicIndex
    version: int
    planner: Planner
    descriptor: str


_loaded: dict[str, LoadedLibrary] = {}


async def _load(settings: Settings) -> tuple[Library, int]:
    db = await Database.open(settings.database, settings.media_dir)
    try:
        repo = StoredLibrary(db)
        await repo.refresh_descriptors(settings.descriptor)
        return await repo.load(settings.descriptor), await repo.version()
    finally:
        await db.close()


async def _version(settings: Settings) -> int:
    db = await Database.open(settings.database, settings.media_dir)
    try:
        return await StoredLibrary(db).version()
    finally:
        await db.close()


def loaded_library(settings: Settings | None = None) -> LoadedLibrary:
    """The library, its fitted index and a planner (sync; for worker processes and the CLI)."""
    settings = settings or Settings.from_env()
    key = str(settings.database)
    version = asyncio.run(_version(settings))
    cached = _loaded.get(key)
    if cached is not None and cached.version == version and cached.descriptor == settings.descriptor:
        return cached
    library, version = asyncio.run(_load(settings))
    if len(library) == 0:
        from choreo_engine.errors import EmptyLibraryError

        raise EmptyLibraryError()
    index_path = settings.data_dir / "index" / f"music-index-v{version}-{settings.descriptor}-s{settings.seed}.pkl"
    if index_path.exists():
        index = MusicIndex.load(index_path)
    else:
        index = MusicIndex(seed=settings.seed).fit(library.descriptors)
        tmp = index_path.with_suffix(f".{os.getpid()}.part")
        index.save(tmp)
        os.replace(tmp, index_path)
    loaded = LoadedLibrary(library, index, version, Planner(library, index, Weights.from_env()), settings.descriptor)
    _loaded[key] = loaded
    return loaded


async def _load_segments(settings: Settings, segment_ids: list[int]) -> Library:
    db = await Database.open(settings.database, settings.media_dir)
    try:
        return await StoredLibrary(db).load_segments(segment_ids)
    finally:
        await db.close()


def segments_by_id(loaded: LoadedLibrary, segment_ids: list[int], settings: Settings) -> list:
    """The library segments with these ids, in order: from the loaded library, or (a clip removed
    since a session was offered it) read from the database, where removed clips stay."""
    missing = [s for s in segment_ids if not loaded.library.has(s)]
    found = {}
    if missing:
        extra = asyncio.run(_load_segments(settings, missing))
        found = {seg.id: seg for seg in extra.segments}
    return [loaded.library.segments[loaded.library.position(s)] if loaded.library.has(s) else found[s]
            for s in segment_ids]


@dataclass
class AnalysedSong:
    path: str
    analysis: audio.SongAnalysis
    descriptors: np.ndarray


def analyse_song(path: str | os.PathLike, settings: Settings | None = None,
                 timings: dict[str, float] | None = None, describe: bool = True) -> AnalysedSong:
    """Decode, beats and segments, segment descriptors (without ``describe``: an empty array,
    to be described later); ``timings`` (when given) gets the seconds of each step: decode,
    beats (with segments and loudness), features."""
    settings = settings or Settings.from_env()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        if timings is not None:
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + now - clock
            clock = now

    y = audio.decode(path, audio.SAMPLE_RATE, settings.max_song_seconds)
    lap("decode")
    analysis = audio.analyze(y, audio.SAMPLE_RATE, settings.beats_per_segment)
    lap("beats")
    if not describe:
        return AnalysedSong(str(path), analysis, np.zeros((0, 0), np.float32))
    descriptors = features.describe_segments(y, analysis.segments, kind=settings.descriptor)
    lap("features")
    return AnalysedSong(str(path), analysis, descriptors)


def plan_song(path: str | os.PathLike, settings: Settings | None = None) -> tuple[AnalysedSong, LoadedLibrary, SongContext, list[int]]:
    """Analyse a song, prepare its candidates and find the auto path."""
    song = analyse_song(path, settings)
    loaded = loaded_library(settings)
    ctx = loaded.planner.prepare(song.analysis, song.descriptors)
    return song, loaded, ctx, loaded.planner.auto_path(ctx)


def render_dance(song: audio.SongAnalysis, lib_segments: list, song_path: str | os.PathLike,
                 video_path: str | os.PathLike, sheet_path: str | os.PathLike | None, mode: str,
                 progress=None, pieces_dir: str | os.PathLike | None = None) -> Path:
    """The final video of the chosen library segments (one per song segment) and, when
    ``sheet_path`` is given, the choreography sheet. Returns the video's path. With
    ``pieces_dir``, a clips video is joined from the pieces stored there, the missing ones made
    (:mod:`choreo_engine.video.pieces`)."""
    from choreo_engine import video

    shots = [video.Shot.from_segments(ls, seg) for ls, seg in zip(lib_segments, song.segments)]
    if pieces_dir is not None and mode == "clips":
        final = video.render_final_in_pieces(dict(enumerate(shots)), [s.start for s in song.segments],
                                             [s.end for s in song.segments], song_path, pieces_dir, video_path,
                                             progress=progress)
    else:
        final = video.render_final(shots, song_path, video_path, mode=mode, progress=progress)
    if credits_card_wanted():
        from choreo_engine.video.credits import append_credits_card

        append_credits_card(final, credit_lines(lib_segments))
    if sheet_path is not None:
        render_sheet(song, lib_segments, sheet_path)
    return Path(final)


def render_sheet(song: audio.SongAnalysis, lib_segments: list, sheet_path: str | os.PathLike) -> Path:
    """The choreography sheet of the chosen library segments (one per song segment)."""
    from choreo_engine import video

    shots = [video.Shot.from_segments(ls, seg) for ls, seg in zip(lib_segments, song.segments)]
    return video.render_sheet(song, shots, sheet_path, motion_levels=[ls.motion_levels for ls in lib_segments],
                              labels=[ls.clip_name for ls in lib_segments], credits=credit_lines(lib_segments))


def credits_card_wanted() -> bool:
    """``CHOREO_CREDITS_CARD=1``: end the final video with a card listing the source videos used."""
    return os.environ.get("CHOREO_CREDITS_CARD", "").strip().lower() in ("1", "true", "yes", "on")


def credit_lines(lib_segments: list) -> list[str]:
    """The credits of the source videos used, once each, in order of first use."""
    return list(dict.fromkeys(ls.credit for ls in lib_segments if getattr(ls, "credit", None)))


def parse_picks(text: str, n_segments: int) -> list[int] | None:
    """``auto`` -> None; ``1,3,2,...`` -> 1-based candidate ranks per segment (padded with auto)."""
    if text.strip().lower() == "auto":
        return None
    ranks = [int(v) for v in text.replace(" ", "").split(",") if v]
    if any(r < 1 or r > 6 for r in ranks):
        raise ValueError("picks are candidate numbers 1-6, comma-separated, or 'auto'")
    return ranks[:n_segments]


def resolve_picks(loaded: LoadedLibrary, ctx: SongContext, ranks: list[int] | None) -> list[int]:
    """Library rows for every segment: the given candidate ranks in order, the rest automatic."""
    planner = loaded.planner
    ranks = ranks or []
    path: list[int] = []
    for i, rank in enumerate(ranks):
        options = planner.candidates(ctx, i, path[-1] if path else None, history=path)
        if not options.items:
            raise ValueError(f"no candidate fits segment {i + 1}")
        path.append(options.items[min(rank, len(options.items)) - 1].position)
    return path + planner.auto_path(ctx, len(path), path[-1] if path else None, path)


def default_settings() -> Settings:
    return Settings.from_env()


def data_path(settings: Settings, *parts: str) -> Path:
    path = settings.data_dir.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
