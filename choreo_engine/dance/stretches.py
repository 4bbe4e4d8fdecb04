"""Only the dancing: the stretches of a video where a person is in full view and moving to music.

A long dance video holds more than dancing: a still intro, a title card, someone talking to the
camera, fades, an outro. A frame counts as dancing when a whole body is seen in it, the body
moves (mean joint speed over a second, in torso lengths per second, above a still body's
jitter and a talker's gestures) and music plays (loudness within ``MUSIC_DB`` of the track's
loud parts). Short breaks are bridged; stretches too short for a segment are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pose

# A body moving less than this (torso lengths per second, mean over a second) is standing still
# (jitter: 0.03-0.06); the slow real dancer video moves at 0.1-1.5.
MIN_DANCE_SPEED = 0.08
# Sound quieter than this many dB below the track's 95th-percentile loudness is no music.
MUSIC_DB = 30.0
# Breaks up to this long (s) inside a stretch are kept (a turn, a missed detection).
MAX_BREAK_SECONDS = 1.5
# A stretch shorter than this (s) cannot hold an 8-beat segment at a slow tempo; it is dropped.
MIN_STRETCH_SECONDS = 8.0
# How long (s) the motion and loudness are averaged over.
WINDOW_SECONDS = 1.0


@dataclass(frozen=True)
class Stretch:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _window_mean(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) == 0:
        return values.astype(float)
    kernel = np.ones(width) / width
    padded = np.pad(values.astype(float), (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def frame_loudness_db(y: np.ndarray, sr: int, fps: float, n_frames: int) -> np.ndarray:
    """The sound's RMS in dB per video frame."""
    hop = sr / fps
    out = np.full(n_frames, -120.0)
    for i in range(n_frames):
        chunk = y[int(i * hop): int((i + 1) * hop)]
        if len(chunk):
            out[i] = 20 * np.log10(np.sqrt(np.mean(chunk.astype(float) ** 2)) + 1e-9)
    return out


def dancing_frames(raw_poses: np.ndarray, norm_speed: np.ndarray, loudness_db: np.ndarray,
                   fps: float) -> np.ndarray:
    """Per frame: is a whole body seen, moving, with music playing?"""
    width = max(1, int(round(WINDOW_SECONDS * fps)))
    seen = np.array([not np.isnan(p[0, 0]) and pose.has_full_body(p) for p in raw_poses])
    seen = _window_mean(seen.astype(float), width) >= 0.5  # one missed frame is no exit
    moving = _window_mean(norm_speed, width) >= MIN_DANCE_SPEED
    loud = loudness_db >= np.percentile(loudness_db, 95) - MUSIC_DB if len(loudness_db) else loudness_db
    loud = _window_mean(loud.astype(float), width) >= 0.5
    n = min(len(seen), len(moving), len(loud))
    return seen[:n] & moving[:n] & loud[:n]


def find_stretches(mask: np.ndarray, fps: float, min_seconds: float = MIN_STRETCH_SECONDS,
                   max_break: float = MAX_BREAK_SECONDS) -> list[Stretch]:
    """Runs of True frames as time ranges, with breaks of at most ``max_break`` bridged."""
    runs: list[list[int]] = []
    for i in np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])) != 0).reshape(-1, 2):
        start, end = int(i[0]), int(i[1])
        if runs and (start - runs[-1][1]) / fps <= max_break:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [Stretch(s / fps, e / fps) for s, e in runs if (e - s) / fps >= min_seconds]
