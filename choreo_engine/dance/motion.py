"""Motion features of dance poses (pipeline steps 4 and 5, the dance side).

All work on normalised poses (hip centre at the origin, in torso lengths; see
:func:`choreo_engine.dance.pose.normalize`), so sizes compare across dancers and camera distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Joints whose speed makes "motion size": the body from the shoulders down, nose for the head.
BODY_JOINTS = np.array([0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 31, 32])
# Joints compared across a cut (transition harmony): the limbs and the torso.
TRANSITION_JOINTS = np.array([0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
N_LEVELS = 10
# Speed smoothing for kinematic beats, in seconds (about 83 ms, as AIST++'s 5 frames at 60 fps).
SPEED_SMOOTHING_SECONDS = 0.083
# Window over which a segment's start/end velocity is measured.
VELOCITY_WINDOW_SECONDS = 0.2


def joint_speed(norm_poses: np.ndarray, fps: float) -> np.ndarray:
    """Per frame, the mean speed of the body joints in torso lengths per second, shape ``(T,)``.

    Uses x and y only: MediaPipe's depth is too noisy to count as motion.
    """
    if len(norm_poses) < 2:
        return np.zeros(len(norm_poses))
    xy = norm_poses[:, BODY_JOINTS, :2]
    v = np.linalg.norm(np.diff(xy, axis=0), axis=2) * fps  # (T-1, J)
    speed = np.nanmean(v, axis=1)
    speed = np.concatenate([[speed[0]], speed])
    return np.nan_to_num(speed, nan=0.0)


def per_beat_motion(speed: np.ndarray, fps: float, beat_times: np.ndarray, end: float) -> np.ndarray:
    """Mean joint speed within each beat (from one beat to the next; the last to ``end``).

    ``beat_times`` and ``end`` are in the same clock as the frames (frame i at i / fps).
    """
    edges = np.append(beat_times, end)
    frames = np.clip(np.round(edges * fps).astype(int), 0, max(len(speed), 1))
    out = np.zeros(len(beat_times))
    for i in range(len(beat_times)):
        lo, hi = frames[i], max(frames[i + 1], frames[i] + 1)
        out[i] = float(np.mean(speed[lo:hi])) if lo < len(speed) else 0.0
    return out


def level_edges(all_motion: np.ndarray, n_levels: int = N_LEVELS) -> np.ndarray:
    """Library-wide quantile edges that map motion size to levels 0..``n_levels``."""
    values = np.asarray(all_motion, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.linspace(0, 1, n_levels)
    return np.quantile(values, np.arange(1, n_levels + 1) / (n_levels + 1))


def motion_levels(motion: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Integer level 0..10 per beat, comparable with the song's loudness levels."""
    return np.searchsorted(edges, np.asarray(motion, dtype=float), side="right").astype(int)


@dataclass
class Boundary:
    """A segment's pose and velocity at one end, for transition harmony."""

    pose: np.ndarray  # (J, 2) normalised x, y of TRANSITION_JOINTS
    velocity: np.ndarray  # (J, 2) torso lengths per second


def boundary(norm_poses: np.ndarray, fps: float, frame: int, at_end: bool) -> Boundary:
    """Pose at ``frame`` and the mean velocity over the window ending (or starting) there."""
    xy = norm_poses[:, TRANSITION_JOINTS, :2]
    frame = int(np.clip(frame, 0, len(xy) - 1))
    w = max(1, int(round(VELOCITY_WINDOW_SECONDS * fps)))
    lo, hi = (max(0, frame - w), frame) if at_end else (frame, min(len(xy) - 1, frame + w))
    velocity = (xy[hi] - xy[lo]) * fps / max(hi - lo, 1)
    return Boundary(np.nan_to_num(xy[frame]), np.nan_to_num(velocity))


def smooth(signal: np.ndarray, fps: float, sigma_seconds: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(signal.astype(float), sigma=max(sigma_seconds * fps, 1e-3), mode="nearest")


def kinematic_beats(
    norm_poses: np.ndarray, fps: float, smoothing_seconds: float = SPEED_SMOOTHING_SECONDS, min_drop: float = 0.05
) -> np.ndarray:
    """Times (s) of the local minima of smoothed body speed: where the dancer "hits" a pose.

    A minimum counts when the speed around it rises by at least ``min_drop`` of the clip's
    median speed on both sides, so tracking jitter is not a beat.
    """
    speed = smooth(joint_speed(norm_poses, fps), fps, smoothing_seconds)
    if len(speed) < 3:
        return np.zeros(0)
    from scipy.signal import find_peaks

    threshold = min_drop * float(np.median(speed) + 1e-9)
    minima, _ = find_peaks(-speed, prominence=threshold)
    return minima / fps
