"""Retiming a dance clip onto a song: a piecewise-linear beat-to-beat time map.

The i-th beat of the library segment lands on the i-th beat of the song segment; between beats
time runs linearly. Before the first beat (a song's lead-in) and after the last paired beat (a
song segment with more beats than the clip) the nearest piece's rate continues. Source times
are clamped to the clip, so the picture holds rather than running off its ends.
"""

from __future__ import annotations

import numpy as np


def beat_grid(beats: np.ndarray, end: float) -> np.ndarray:
    """Beats followed by the segment's end (the next segment's first beat)."""
    beats = np.asarray(beats, dtype=float)
    return np.append(beats, end) if end > beats[-1] else beats


def time_map(
    dst_times: np.ndarray,
    dst_beats: np.ndarray,
    dst_end: float,
    src_beats: np.ndarray,
    src_end: float,
    src_limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Source time for each destination time (seconds, both absolute in their own clocks)."""
    dst = beat_grid(dst_beats, dst_end)
    src = beat_grid(src_beats, src_end)
    k = min(len(dst), len(src))
    dst, src = dst[:k], src[:k]
    t = np.asarray(dst_times, dtype=float)
    if k == 1:
        out = src[0] + (t - dst[0])
    else:
        out = np.interp(t, dst, src)
        first_rate = (src[1] - src[0]) / (dst[1] - dst[0])
        last_rate = (src[-1] - src[-2]) / (dst[-1] - dst[-2])
        before, after = t < dst[0], t > dst[-1]
        out[before] = src[0] + (t[before] - dst[0]) * first_rate
        out[after] = src[-1] + (t[after] - dst[-1]) * last_rate
    if src_limits is not None:
        out = np.clip(out, src_limits[0], src_limits[1])
    return out


def sample_poses(poses: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
    """Poses at arbitrary times by linear interpolation between frames (clamped to the clip)."""
    f = np.clip(np.asarray(times) * fps, 0, len(poses) - 1)
    lo = np.floor(f).astype(int)
    hi = np.minimum(lo + 1, len(poses) - 1)
    w = (f - lo).reshape((-1,) + (1,) * (poses.ndim - 1))
    return poses[lo] * (1 - w) + poses[hi] * w


def retime(poses: np.ndarray, fps: float, dst_times: np.ndarray, dst_beats: np.ndarray, dst_end: float,
           src_beats: np.ndarray, src_end: float) -> np.ndarray:
    """A clip's poses (at ``fps``) at destination times: the beat-to-beat map, clamped to the clip."""
    src = time_map(dst_times, dst_beats, dst_end, src_beats, src_end, (0.0, (len(poses) - 1) / fps))
    return sample_poses(poses, fps, src)


def stretch_factor(dst_beats: np.ndarray, dst_end: float, src_beats: np.ndarray, src_end: float) -> float:
    """How much faster (> 1) or slower the clip plays once retimed: source span / destination span."""
    dst = beat_grid(dst_beats, dst_end)
    src = beat_grid(src_beats, src_end)
    k = min(len(dst), len(src))
    return float((src[k - 1] - src[0]) / (dst[k - 1] - dst[0])) if k > 1 else 1.0
