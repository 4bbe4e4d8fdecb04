"""Engine work run in the bot's process pool (never on the event loop).

Every function takes and returns plain data (dicts, lists, arrays, paths) so it crosses the
process boundary cheaply; the library and its index stay loaded in each worker process.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from choreo_engine.music import audio, features
from choreo_engine.dance.library import file_sha256
from choreo_engine.errors import FFmpegError
from choreo_engine.settings import Settings
from storage.retention import PIECES_DIR

from . import choreography

HEAD_SECONDS = 30.0  # the song's start that part 1's first preview is made from


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


def analyse(song_path: str, settings: Settings, describe: bool = True) -> tuple[dict, np.ndarray, dict[str, float]]:
    """The song's analysis, its segment descriptors (without ``describe``: an empty array, for
    :func:`describe` later) and the seconds each step took."""
    timings: dict[str, float] = {}
    song = choreography.analyse_song(song_path, settings, timings, describe)
    return song.analysis.to_dict(), song.descriptors, timings


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


def _row(loaded, segment_id: int) -> int | None:
    """The library row of a pick, if it is still planned with (its clip not removed)."""
    return loaded.library.position(segment_id) if loaded.library.has(segment_id) else None


def _previous(loaded, segment_ids: list[int]) -> int | None:
    """The row of the last pick (its end pose leads into the next part), if it is still planned with."""
    return _row(loaded, segment_ids[-1]) if segment_ids else None


def _offered(loaded, song, idx: int, options, song_path: str, out_path: str, timings: dict[str, float]) -> dict:
    """The candidates as plain data, with their preview video."""
    from choreo_engine import video

    t0 = time.perf_counter()
    seg = song.segments[idx]
    shots = [video.Shot.from_segments(loaded.library.segments[c.position], seg) for c in options.items]
    preview = None
    if shots:
        preview = str(video.render_preview(shots, song_path, out_path, start=seg.start, end=seg.end))
    timings["preview_render"] = time.perf_counter() - t0
    return {
        "candidates": [{"rank": c.rank, "segment_id": c.segment_id, "scores": c.scores, "total": c.total,
                        "stretch": c.stretch} for c in options.items],
        "note": options.message,
        "preview": preview,
        "timings": timings,
    }


def offer(analysis: dict, descriptors: np.ndarray, idx: int, picked_ids: list[int], song_path: str,
          out_path: str, settings: Settings) -> dict:
    """The candidates of segment ``idx`` given the picks so far, and their preview video."""
    t0 = time.perf_counter()
    loaded, song, ctx = _context(analysis, descriptors, settings)
    history = _rows(loaded, picked_ids)
    options = loaded.planner.candidates(ctx, idx, _previous(loaded, picked_ids), history=history)
    return _offered(loaded, song, idx, options, song_path, out_path, {"planning": time.perf_counter() - t0})


def first_offer(song_path: str, out_path: str, settings: Settings) -> dict | None:
    """Part 1's candidates and preview from the song's first ``HEAD_SECONDS`` alone, made while
    another worker analyses the whole song (the first answer waits for the longer of the two,
    not their sum). None when the head holds fewer than two parts (its first would take the tail).

    The result is :func:`offer`'s, with ``segment``: part 1's start and end as the head saw them,
    for the caller to check against the whole song's analysis.
    """
    t0 = time.perf_counter()
    y = audio.decode(song_path, audio.SAMPLE_RATE, HEAD_SECONDS, head=True)  # the whole decode checks the rest
    head = audio.analyze(y, audio.SAMPLE_RATE, settings.beats_per_segment)
    if len(head.segments) < 2:
        return None
    first = dataclasses.replace(head, segments=head.segments[:1])
    descriptors = features.describe_segments(y, first.segments, kind=settings.descriptor)
    t1 = time.perf_counter()
    loaded = choreography.loaded_library(settings)
    options = loaded.planner.candidates(loaded.planner.prepare(first, descriptors), 0)
    result = _offered(loaded, first, 0, options, song_path, out_path,
                      {"head_analysis": t1 - t0, "planning": time.perf_counter() - t1})
    result["segment"] = {"start": first.segments[0].start, "end": first.segments[0].end}
    return result


def change_offer(analysis: dict, descriptors: np.ndarray, idx: int, picked_ids: list[int], song_path: str,
                 out_path: str, settings: Settings) -> dict:
    """The candidates of part ``idx`` of a finished dance (``picked_ids``: every part's pick),
    ranked on both neighbours, and their preview video."""
    t0 = time.perf_counter()
    loaded, song, ctx = _context(analysis, descriptors, settings)
    # the picks before this part, in order: the planner reads the repetition window and the
    # motif (the move of the part this one repeats) from them
    options = loaded.planner.candidates(ctx, idx, _previous(loaded, picked_ids[:idx]),
                                        history=_rows(loaded, picked_ids[:idx]),
                                        next_pick=_row(loaded, picked_ids[idx + 1]) if idx + 1 < len(picked_ids) else None)
    return _offered(loaded, song, idx, options, song_path, out_path, {"planning": time.perf_counter() - t0})


def auto_rest(analysis: dict, descriptors: np.ndarray, start: int, picked_ids: list[int],
              offered: list[dict], settings: Settings) -> list[tuple[int, int, int]]:
    """(idx, rank, library segment id) for segments ``start..``: the auto path after the picks.

    ``rank`` is the pick's number among the offered candidates of ``start`` when it is one of
    them, else 0 (segments never offered).
    """
    loaded, song, ctx = _context(analysis, descriptors, settings)
    history = _rows(loaded, picked_ids)
    path = loaded.planner.auto_path(ctx, start, _previous(loaded, picked_ids), history)
    return ranked_path(start, [loaded.library.segments[row].id for row in path], offered)


def ranked_path(start: int, segment_ids: list[int], offered: list[dict]) -> list[tuple[int, int, int]]:
    """:func:`auto_rest`'s answer for an auto path from ``start`` (library segment ids)."""
    ranks = {c["library_segment_id"]: c["rank"] for c in offered}
    return [(start + i, ranks.get(seg_id, 0) if i == 0 else 0, seg_id) for i, seg_id in enumerate(segment_ids)]


def render_result(analysis: dict, picked_ids: list[int], song_path: str, out_dir: str, mode: str,
                  settings: Settings, progress_path: str | None = None, name: str | None = None) -> dict:
    """The final video (``mode``: clips or avatar; file ``name``, by default ``dance-<mode>.mp4``)
    and its poster (its first frame, beside it as ``.jpg``: the file the bot sends first and
    turns into the video). A clips video is joined from its pieces in ``out_dir/pieces``
    (:func:`render_pieces`), the missing ones made here. The choreography sheet is not made
    here (:func:`render_sheet`, after the dance is sent): the dance does not wait for it."""
    from choreo_engine import video as engine_video

    song, lib_segments = _chosen(analysis, picked_ids, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    video = choreography.render_dance(song, lib_segments, song_path, out / (name or f"dance-{mode}.mp4"),
                                      None, mode, _progress_writer(progress_path), pieces_dir=out / PIECES_DIR)
    try:
        engine_video.poster_frame(video, poster_of(video))
    except FFmpegError:  # only a placeholder: the dance is then sent without one
        pass
    return {"video": str(video), "sheet": str(out / SHEET_NAME), "sha256": file_sha256(video),
            "timings": {"render": time.perf_counter() - t0}}


SHEET_NAME = "sheet.png"  # in a session's folder: the choreography sheet of its first dance


def poster_of(video_path: str | os.PathLike) -> Path:
    """Where a final video's poster (its first frame) is kept: beside it, as ``.jpg``."""
    return Path(video_path).with_suffix(".jpg")


def render_sheet(analysis: dict, picked_ids: list[int], out_dir: str, settings: Settings) -> str:
    """The choreography sheet (``out_dir/sheet.png``), made once: one already there is kept.
    Written under a name of its own, then renamed (a second delivery of the task may be writing it too)."""
    sheet = Path(out_dir) / SHEET_NAME
    if not sheet.exists():
        song, lib_segments = _chosen(analysis, picked_ids, settings)
        part = sheet.with_name(f"sheet.part-{uuid.uuid4().hex[:12]}.png")
        try:
            choreography.render_sheet(song, lib_segments, part)
            os.replace(part, sheet)
        finally:
            part.unlink(missing_ok=True)
    return str(sheet)


def _progress_writer(progress_path: str | None):
    """A progress callback that writes the fraction done to ``progress_path`` (atomically), for the bot to read."""

    def progress(fraction: float) -> None:
        if progress_path:
            tmp = f"{progress_path}.{uuid.uuid4().hex[:12]}.tmp"  # two writers (a re-delivered task) never share it
            Path(tmp).write_text(f"{fraction:.3f}")
            os.replace(tmp, progress_path)

    return progress


def _chosen(analysis: dict, picked_ids: list[int], settings: Settings):
    """The song and its picked library segments (a clip removed since included: it still renders)."""
    loaded = choreography.loaded_library(settings)
    return audio.SongAnalysis.from_dict(analysis), choreography.segments_by_id(loaded, picked_ids, settings)


def practice_video(analysis: dict, picked_ids: list[int], song_path: str, out_path: str, mode: str, speed: float,
                   loop_part: int | None, part_text: str, settings: Settings, progress_path: str | None = None) -> dict:
    """The practice video of the chosen dance (``loop_part`` 0-based, or None for the whole dance).

    A video already at ``out_path`` is reused: its name says what it shows (the caller names it
    by mode, speed, part and picks), and a job re-run after a crash need not render it again.
    """
    from choreo_engine.ffmpeg import probe_duration

    from . import practice

    video = Path(out_path)
    if not video.exists():
        song, lib_segments = _chosen(analysis, picked_ids, settings)
        practice.practice_dance(song, lib_segments, song_path, video, mode=mode, speed=speed, loop_part=loop_part,
                                progress=_progress_writer(progress_path), part_text=part_text)
    return {"video": str(video), "sha256": file_sha256(video), "duration": probe_duration(video)}


def export_poses(analysis: dict, picked_ids: list[int], out_dir: str, formats: tuple[str, ...],
                 settings: Settings) -> dict[str, str]:
    """The chosen dance's poses as files: ``{format: path}``."""
    from . import practice

    song, lib_segments = _chosen(analysis, picked_ids, settings)
    return practice.export_dance(song, lib_segments, out_dir, formats)


def final_sound(analysis: dict, song_path: str, out_dir: str) -> str:
    """The final video's sound, made into ``out_dir/pieces`` before anything is picked (it
    depends only on the song): the render that follows a tap on ✨ right away then need not."""
    from choreo_engine import video

    return str(video.final_sound(song_path, analysis["segments"][-1]["end"], Path(out_dir) / PIECES_DIR))


def render_pieces(analysis: dict, picked_ids: list[int], song_path: str, out_dir: str, settings: Settings,
                  share: tuple[int, int] = (0, 1), progress_path: str | None = None,
                  parts_below: int | None = None, with_sound: bool = True) -> int:
    """The pieces of the final clips video that the picks so far decide (``picked_ids``: parts
    ``0..``), made ahead of the final (after each pick, or by several workers at once, each its
    ``share``) into ``out_dir/pieces``; :func:`render_result` then joins them. With
    ``parts_below``, only those of the parts before it (a stretch of an auto path made ahead).
    Without ``with_sound``, the first share leaves the final's sound (being made by another
    call). Returns the number of piece files stored."""
    from choreo_engine import video

    song, lib_segments = _chosen(analysis, picked_ids, settings)
    shots = {i: video.Shot.from_segments(ls, song.segments[i]) for i, ls in enumerate(lib_segments)}
    folder = Path(out_dir) / PIECES_DIR
    video.render_final_in_pieces(shots, [s.start for s in song.segments], [s.end for s in song.segments], song_path,
                                 folder, None, share=share, progress=_progress_writer(progress_path),
                                 parts_below=parts_below, with_sound=with_sound)
    return len(list(folder.glob("piece-*.mp4")))
