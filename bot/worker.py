"""Engine work run in the bot's process pool (never on the event loop).

Every function takes and returns plain data (dicts, lists, arrays, paths) so it crosses the
process boundary cheaply; the library and its index stay loaded in each worker process.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from choreo_engine.music import audio, features
from choreo_engine.dance.library import file_sha256
from choreo_engine.settings import Settings

from . import choreography


def exit_with_parent() -> None:
    """Pool initializer: the worker ends when the bot process is gone. A SIGKILLed bot cannot stop
    its pool, and its workers would otherwise live on, each holding a loaded library."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def warm_up(settings: Settings) -> int:
    """Compile librosa's numba code and load the library once, so the first song does not wait."""
    from choreo_engine.music.compiled import ensure_compiled

    ensure_compiled()
    try:
        return len(choreography.loaded_library(settings).library)
    except Exception:
        return 0


def analyse(song_path: str, settings: Settings) -> tuple[dict, np.ndarray]:
    song = choreography.analyse_song(song_path, settings)
    return song.analysis.to_dict(), song.descriptors


def describe(song_path: str, analysis: dict, settings: Settings) -> np.ndarray:
    """Describe an analysed song's segments again (its stored descriptors are out of date)."""
    y = audio.decode(song_path, max_seconds=None)
    return features.describe_segments(y, audio.SongAnalysis.from_dict(analysis).segments, kind=settings.descriptor)


def _context(analysis: dict, descriptors: np.ndarray, settings: Settings):
    loaded = choreography.loaded_library(settings)
    song = audio.SongAnalysis.from_dict(analysis)
    return loaded, song, loaded.planner.prepare(song, descriptors)


def _rows(loaded, segment_ids: list[int]) -> list[int]:
    """Library rows of the picks so far; a pick whose clip was removed since is left out (it still
    renders, but is no longer planned with: no transition from it, no repetition penalty)."""
    return [loaded.library.position(s) for s in segment_ids if loaded.library.has(s)]


def _previous(loaded, segment_ids: list[int]) -> int | None:
    """The row of the last pick (its end pose leads into the next part), if it is still planned with."""
    return loaded.library.position(segment_ids[-1]) if segment_ids and loaded.library.has(segment_ids[-1]) else None


def offer(analysis: dict, descriptors: np.ndarray, idx: int, picked_ids: list[int], song_path: str,
          out_path: str, settings: Settings) -> dict:
    """The candidates of segment ``idx`` given the picks so far, and their preview video."""
    from choreo_engine import video

    loaded, song, ctx = _context(analysis, descriptors, settings)
    history = _rows(loaded, picked_ids)
    options = loaded.planner.candidates(ctx, idx, _previous(loaded, picked_ids), history=history)
    seg = song.segments[idx]
    shots = [video.Shot.from_segments(loaded.library.segments[c.position], seg) for c in options.items]
    preview = None
    if shots:
        preview = str(video.render_preview(shots, song_path, out_path, start=seg.start, end=seg.end))
    return {
        "candidates": [{"rank": c.rank, "segment_id": c.segment_id, "scores": c.scores, "total": c.total,
                        "stretch": c.stretch} for c in options.items],
        "note": options.message,
        "preview": preview,
    }


def auto_rest(analysis: dict, descriptors: np.ndarray, start: int, picked_ids: list[int],
              offered: list[dict], settings: Settings) -> list[tuple[int, int, int]]:
    """(idx, rank, library segment id) for segments ``start..``: the auto path after the picks.

    ``rank`` is the pick's number among the offered candidates of ``start`` when it is one of
    them, else 0 (segments never offered).
    """
    loaded, song, ctx = _context(analysis, descriptors, settings)
    history = _rows(loaded, picked_ids)
    path = loaded.planner.auto_path(ctx, start, _previous(loaded, picked_ids), history)
    ranks = {c["library_segment_id"]: c["rank"] for c in offered}
    out = []
    for i, row in enumerate(path):
        seg_id = loaded.library.segments[row].id
        out.append((start + i, ranks.get(seg_id, 0) if i == 0 else 0, seg_id))
    return out


def render_result(analysis: dict, picked_ids: list[int], song_path: str, out_dir: str, mode: str,
                  settings: Settings, progress_path: str | None = None) -> dict:
    """The final video (``mode``: clips or avatar) and the choreography sheet (made once)."""
    loaded = choreography.loaded_library(settings)
    song = audio.SongAnalysis.from_dict(analysis)
    lib_segments = choreography.segments_by_id(loaded, picked_ids, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def progress(fraction: float) -> None:
        if progress_path:
            tmp = progress_path + ".tmp"
            Path(tmp).write_text(f"{fraction:.3f}")
            os.replace(tmp, progress_path)

    sheet = out / "sheet.png"
    video = choreography.render_dance(song, lib_segments, song_path, out / f"dance-{mode}.mp4",
                                      None if sheet.exists() else sheet, mode, progress)
    return {"video": str(video), "sheet": str(sheet), "sha256": file_sha256(video)}
