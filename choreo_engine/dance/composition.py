"""A chosen path laid on the song's timeline as one pose sequence (for metrics and the avatar).

Each pick's poses are retimed with the beat-to-beat map of :mod:`timewarp` onto its song
segment and normalised (hip centre at the origin, torso lengths), so the sequence can be
scored with :mod:`metrics` before anything is rendered.
"""

from __future__ import annotations

import numpy as np

from . import pose, timewarp
from ..music.audio import SongAnalysis
from .library import Library, load_poses


def compose_dance(analysis: SongAnalysis, library: Library, path: list[int], fps: float = 30.0,
                  pose_cache: dict | None = None) -> np.ndarray:
    """(T, 33, 3) normalised poses at ``fps`` covering the song, one pick (Library row) per segment."""
    pose_cache = {} if pose_cache is None else pose_cache
    pieces = []
    for seg, row in zip(analysis.segments, path):
        lib_seg = library.segments[row]
        if lib_seg.poses_path not in pose_cache:
            poses, clip_fps = load_poses(lib_seg.poses_path)
            pose_cache[lib_seg.poses_path] = (pose.normalize(poses, lib_seg.aspect), clip_fps)
        norm, clip_fps = pose_cache[lib_seg.poses_path]
        times = np.arange(int(round(seg.start * fps)), int(round(seg.end * fps))) / fps
        pieces.append(timewarp.retime(norm, clip_fps, times, seg.beats, seg.end, lib_seg.beats, lib_seg.end))
    return np.concatenate(pieces) if pieces else np.zeros((0, 33, 3))
