"""Evaluation metrics for a choreography, in the style of mir_eval: validated inputs, one
function per metric, tolerances as named parameters (seconds, not frames).

Beat Alignment Score (BAS) comes in two directions in the literature:

- :func:`bas_music_to_dance` (as Bailando reports it): for every music beat, how close the
  nearest kinematic beat is;
- :func:`bas_dance_to_music` (as the AIST++ paper defines it): for every kinematic beat, how
  close the nearest music beat is.

Both average ``exp(-d^2 / (2 sigma^2))`` with ``sigma = 50 ms`` by default.
"""

from __future__ import annotations

import numpy as np

from ..dance import motion

SIGMA_SECONDS = 0.05
SPEED_SMOOTHING_SECONDS = motion.SPEED_SMOOTHING_SECONDS


def validate_beats(beats: np.ndarray, name: str = "beats") -> np.ndarray:
    beats = np.asarray(beats, dtype=float)
    if beats.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of times in seconds")
    if not np.all(np.isfinite(beats)):
        raise ValueError(f"{name} must be finite")
    if np.any(beats < 0):
        raise ValueError(f"{name} must be non-negative (seconds)")
    if np.any(np.diff(beats) < 0):
        raise ValueError(f"{name} must be sorted")
    return beats


def _alignment(reference: np.ndarray, estimated: np.ndarray, sigma: float) -> float:
    if sigma <= 0:
        raise ValueError("sigma must be positive (seconds)")
    if len(reference) == 0:
        return 0.0
    if len(estimated) == 0:
        return 0.0
    idx = np.clip(np.searchsorted(estimated, reference), 1, len(estimated)) - 1
    nearest = np.minimum(np.abs(reference - estimated[idx]),
                         np.abs(reference - estimated[np.minimum(idx + 1, len(estimated) - 1)]))
    return float(np.mean(np.exp(-(nearest**2) / (2 * sigma**2))))


def bas_music_to_dance(music_beats: np.ndarray, dance_beats: np.ndarray, sigma: float = SIGMA_SECONDS) -> float:
    """Mean over music beats of the Gaussian of the distance to the nearest kinematic beat."""
    return _alignment(validate_beats(music_beats, "music_beats"), validate_beats(dance_beats, "dance_beats"), sigma)


def bas_dance_to_music(music_beats: np.ndarray, dance_beats: np.ndarray, sigma: float = SIGMA_SECONDS) -> float:
    """Mean over kinematic beats of the Gaussian of the distance to the nearest music beat."""
    return _alignment(validate_beats(dance_beats, "dance_beats"), validate_beats(music_beats, "music_beats"), sigma)


def dance_beats(norm_poses: np.ndarray, fps: float, smoothing: float = SPEED_SMOOTHING_SECONDS) -> np.ndarray:
    """Kinematic beats (s) of a normalised pose sequence: local minima of smoothed speed."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    norm_poses = np.asarray(norm_poses)
    if norm_poses.ndim != 3 or norm_poses.shape[1] != 33:
        raise ValueError("norm_poses must be (T, 33, C)")
    return motion.kinematic_beats(norm_poses, fps, smoothing)


def transition_discontinuity(end_poses: np.ndarray, start_poses: np.ndarray) -> np.ndarray:
    """Per cut, the mean joint jump (torso lengths) from one pick's end to the next one's start.

    ``end_poses[i]`` and ``start_poses[i]`` are the two sides of cut i, each (J, 2).
    """
    end_poses, start_poses = np.asarray(end_poses, dtype=float), np.asarray(start_poses, dtype=float)
    if end_poses.shape != start_poses.shape or end_poses.ndim != 3:
        raise ValueError("end_poses and start_poses must both be (cuts, J, 2)")
    return np.linalg.norm(start_poses - end_poses, axis=-1).mean(axis=-1)


def repetition_ratio(picks: list[int] | np.ndarray) -> float:
    """Share of picks that reuse a library segment already used earlier in the path."""
    picks = list(picks)
    if not picks:
        raise ValueError("picks must not be empty")
    return 1.0 - len(set(picks)) / len(picks)


# --------------------------------------------------------------------------- choreography


def downbeat_share(part_starts: np.ndarray, downbeats: np.ndarray, tolerance: float = 0.07) -> float:
    """Share of part starts (after the first, which holds the lead-in) within ``tolerance`` s of a downbeat."""
    part_starts, downbeats = np.asarray(part_starts, dtype=float), np.asarray(downbeats, dtype=float)
    if len(part_starts) == 0 or len(downbeats) == 0:
        return 0.0
    return float(np.mean(np.abs(part_starts[:, None] - downbeats[None, :]).min(axis=1) <= tolerance))


def style_coherence(styles: list[str], sections: np.ndarray) -> float:
    """Share of adjacent part pairs inside one section that keep the dance style (1.0 when no pair)."""
    pairs = [styles[i] == styles[i - 1] for i in range(1, len(styles)) if sections[i] == sections[i - 1]]
    return float(np.mean(pairs)) if pairs else 1.0


def motif_reuse(picks: list[int], sources: list[int | None]) -> float | None:
    """Share of parts with a source (repeating an earlier part's music) whose pick is the source's pick."""
    pairs = [picks[i] == picks[s] for i, s in enumerate(sources) if s is not None]
    return float(np.mean(pairs)) if pairs else None


def repetition_outside_repeats(picks: list[int], sources: list[int | None]) -> float:
    """Share of parts that repeat no earlier music yet reuse a library segment used before."""
    flags = [picks[i] in picks[:i] for i, s in enumerate(sources) if s is None]
    return float(np.mean(flags)) if flags else 0.0


def energy_fit(beat_loudness: np.ndarray, beat_motion: np.ndarray) -> float:
    """Spearman rank correlation of per-beat loudness and the chosen moves' per-beat motion size."""
    from scipy.stats import spearmanr

    beat_loudness, beat_motion = np.asarray(beat_loudness, dtype=float), np.asarray(beat_motion, dtype=float)
    if len(beat_loudness) != len(beat_motion):
        raise ValueError("one motion level per beat is needed")
    if len(beat_loudness) < 3 or np.ptp(beat_loudness) == 0 or np.ptp(beat_motion) == 0:
        return 0.0
    return float(spearmanr(beat_loudness, beat_motion).statistic)
