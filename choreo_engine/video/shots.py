"""Shots: one library segment placed on one song segment, and the order they play in.

Everything in the video stage works from :class:`Shot` values and never touches the database.
Every shot runs on the song's clock: song time ``t`` maps to clip time by the shot's
beat-to-beat map (:func:`choreo_engine.dance.timewarp.time_map`), clamped to the clip so the
picture holds at its ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import ffmpeg
from ..dance import timewarp
from ..dance.library import LibrarySegment
from ..errors import NotVideoError, RenderError
from ..ffmpeg import VideoInfo
from ..music.audio import Segment

__all__ = ["Shot", "VideoInfo", "check_order", "schedule", "segment_at", "video_info"]


@dataclass
class Shot:
    """One library segment placed on a song segment."""

    video_path: str
    poses_path: str
    fps: float  # the library clip (video has no audio)
    src_beats: np.ndarray
    src_end: float  # the library segment's beats and end (clip seconds)
    dst_beats: np.ndarray
    dst_start: float
    dst_end: float  # the song segment's beats, start, end (song seconds)
    label: str = ""  # e.g. clip name
    aspect: float | None = None  # display width / height of the clip; probed from the video when None

    def __post_init__(self) -> None:
        self.video_path = str(self.video_path)
        self.poses_path = str(self.poses_path)
        self.src_beats = np.asarray(self.src_beats, dtype=float).ravel()
        self.dst_beats = np.asarray(self.dst_beats, dtype=float).ravel()
        if len(self.src_beats) == 0 or len(self.dst_beats) == 0:
            raise ValueError("a shot needs at least one beat on each side")
        if not self.dst_end > self.dst_start:
            raise ValueError(f"empty song segment [{self.dst_start}, {self.dst_end})")

    @classmethod
    def from_segments(cls, lib_seg: LibrarySegment, song_seg: Segment) -> "Shot":
        return cls(
            video_path=str(lib_seg.video_path),
            poses_path=str(lib_seg.poses_path),
            fps=float(lib_seg.fps),
            src_beats=np.asarray(lib_seg.beats, dtype=float),
            src_end=float(lib_seg.end),
            dst_beats=np.asarray(song_seg.beats, dtype=float),
            dst_start=float(song_seg.start),
            dst_end=float(song_seg.end),
            label=str(lib_seg.clip_name or ""),
            aspect=getattr(lib_seg, "aspect", None),
        )

    @property
    def duration(self) -> float:
        return self.dst_end - self.dst_start

    def source_times(self, times: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
        """Clip time for each song time (the beat-to-beat map), clamped to ``limits``."""
        return timewarp.time_map(
            np.atleast_1d(np.asarray(times, dtype=float)), self.dst_beats, self.dst_end,
            self.src_beats, self.src_end, limits,
        )

    def display_aspect(self) -> float:
        if self.aspect:
            return float(self.aspect)
        if os.path.exists(self.video_path):
            return video_info(self.video_path).aspect
        return 1.0


def schedule(shots: Sequence[Shot], times: np.ndarray) -> np.ndarray:
    """Index of the shot that covers each song time (before the first: 0; after the last: last)."""
    return segment_at([s.dst_start for s in shots], times)


def segment_at(starts: Sequence[float], times: np.ndarray) -> np.ndarray:
    """Index of the segment (by its start, in order) that covers each time (before the first: 0)."""
    idx = np.searchsorted(np.asarray(starts, dtype=float), np.asarray(times, dtype=float), side="right") - 1
    return np.clip(idx, 0, len(starts) - 1)


def check_order(shots: Sequence[Shot]) -> None:
    if not shots:
        raise ValueError("no shots")
    for a, b in zip(shots, shots[1:]):
        if b.dst_start < a.dst_start:
            raise ValueError("shots must be in song order")


def video_info(path: str | os.PathLike) -> VideoInfo:
    """A dance clip's frame size, rate and length (cached while the file is unchanged).

    Raises RenderError, naming the clip, when it cannot be read.
    """
    try:
        return ffmpeg.probe_video(path)
    except NotVideoError:
        raise RenderError(f"I couldn't read the dance clip {Path(path).name}.") from None
