"""Learning a finished dance, as the command line and the bot's workers call it: the practice
video (mirrored, slowed down, counted, one part looped) and the pose export (BVH, JSON, CSV).

Both take what the final render takes: the song's analysis and the chosen library segments,
one per part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from choreo_engine.music import audio

EXPORT_FORMATS = ("bvh", "json", "csv")


def _shots(song: audio.SongAnalysis, lib_segments: list) -> list:
    from choreo_engine import video

    return [video.Shot.from_segments(ls, seg) for ls, seg in zip(lib_segments, song.segments)]


def practice_dance(song: audio.SongAnalysis, lib_segments: list, song_path: str | os.PathLike,
                   out_path: str | os.PathLike, *, mode: str = "clips", speed: float = 0.5,
                   loop_part: int | None = None, progress: Callable[[float], None] | None = None,
                   part_text: str = "Part {part}/{total}") -> Path:
    """The practice video of the chosen segments; ``loop_part`` is 0-based."""
    from choreo_engine.video.practice import render_practice

    return render_practice(_shots(song, lib_segments), song, song_path, out_path, speed=speed, loop_part=loop_part,
                           mode=mode, progress=progress, part_text=part_text)


def export_dance(song: audio.SongAnalysis, lib_segments: list, out_dir: str | os.PathLike,
                 formats: tuple[str, ...] = EXPORT_FORMATS, stem: str = "choreo-dance") -> dict[str, str]:
    """The chosen segments' poses as ``{format: path}`` for each of ``formats`` (bvh, json, csv)."""
    from choreo_engine.dance import export

    unknown = set(formats) - set(EXPORT_FORMATS)
    if unknown:
        raise ValueError(f"unknown export format(s): {', '.join(sorted(unknown))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keypoints = export.choreography_keypoints(_shots(song, lib_segments), song)
    writers = {"bvh": export.write_bvh, "json": export.write_json, "csv": export.write_csv}
    return {fmt: str(writers[fmt](keypoints, out / f"{stem}.{fmt}")) for fmt in formats}
