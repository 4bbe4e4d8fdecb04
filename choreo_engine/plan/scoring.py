"""The four scores of a candidate (pipeline steps 3-5), each 0-100, and their weighted sum.

music similarity
    Cosine similarity of the song segment's descriptor and the candidate's in the
    ``MusicIndex``'s PCA space, shown 0-100 (negative shown as 0), as in the original.
amplitude fit (original step 5)
    The song segment's per-beat loudness levels against the candidate's per-beat motion
    levels, both 0..10: ``100 * (1 - mean |loudness - motion| / 10)``.
transition harmony (original step 4)
    The previous pick's end against the candidate's start, on normalised poses (torso
    lengths): ``100 * exp(-(position gap + VELOCITY_SECONDS * velocity gap) / TRANSITION_SCALE)``
    where each gap is the mean over joints. A jump of a whole torso length scores ~4.
    Without a previous pick every candidate scores 100.
tempo fit
    The stretch the candidate needs to land on the song's beats, allowing double and half
    time: ``100 * (1 - |log stretch| / log 1.25)``; beyond 0.8-1.25 the candidate is excluded
    (it cannot be retimed without looking wrong).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

TEMPO_WINDOW = (0.8, 1.25)
TRANSITION_SCALE = 0.3  # torso lengths
VELOCITY_SECONDS = 0.25  # a velocity gap counts as the position gap it makes in this time
SCORE_NAMES = ("music", "amplitude", "transition", "tempo")


@dataclass(frozen=True)
class Weights:
    """Weights of the combined score (normalized to sum 1).

    Music and amplitude weigh the same: with music at 0.40 and amplitude at 0.20 the auto path
    lost to random paths on amplitude fit for 1 of the 26 shared tracks (the music term pulled
    it to clips that move too much for quiet passages); at 0.30/0.30 it beats them on every
    track with the test library, and on transition discontinuity too (tests/test_planner.py).
    With the 40-song starter library one track still loses, by 0.8 points: the one-segment
    trumpet loop, whose best combined pick trades amplitude for music similarity.
    """

    music: float = 0.30
    amplitude: float = 0.30
    transition: float = 0.25
    tempo: float = 0.15

    @classmethod
    def from_env(cls) -> "Weights":
        """``CHOREO_WEIGHTS=music,amplitude,transition,tempo`` (e.g. ``0.3,0.3,0.25,0.15``)."""
        raw = os.environ.get("CHOREO_WEIGHTS", "").strip()
        if not raw:
            return cls()
        values = [float(v) for v in raw.split(",")]
        if len(values) != 4 or any(v < 0 for v in values) or sum(values) <= 0:
            raise ValueError("CHOREO_WEIGHTS needs four non-negative numbers: music,amplitude,transition,tempo")
        return cls(*values)

    def as_array(self) -> np.ndarray:
        w = np.array([self.music, self.amplitude, self.transition, self.tempo], dtype=float)
        return w / w.sum()


def music_similarity(cosine: np.ndarray) -> np.ndarray:
    return np.clip(cosine, 0.0, 1.0) * 100.0


def amplitude_fit(loudness: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """``loudness`` (B,) against ``motion`` (N, B) or (B,), levels 0..10 -> (N,) or scalar."""
    diff = np.abs(np.asarray(motion, dtype=float) - np.asarray(loudness, dtype=float))
    return 100.0 * (1.0 - diff.mean(axis=-1) / 10.0)


def transition_harmony(
    end_pose: np.ndarray, end_velocity: np.ndarray, start_poses: np.ndarray, start_velocities: np.ndarray
) -> np.ndarray:
    """The previous pick's end (J, 2) against candidates' starts (N, J, 2) or (J, 2)."""
    gap = np.linalg.norm(start_poses - end_pose, axis=-1).mean(axis=-1)
    vgap = np.linalg.norm(start_velocities - end_velocity, axis=-1).mean(axis=-1)
    return 100.0 * np.exp(-(gap + VELOCITY_SECONDS * vgap) / TRANSITION_SCALE)


def tempo_stretch(segment_tempo: float, candidate_tempo: np.ndarray) -> np.ndarray:
    """The play-speed factor closest to 1 among candidate x {1/2, 1, 2}."""
    candidate_tempo = np.asarray(candidate_tempo, dtype=float)
    options = np.stack([segment_tempo / (candidate_tempo * m) for m in (0.5, 1.0, 2.0)])
    best = np.argmin(np.abs(np.log(options)), axis=0)
    return np.take_along_axis(options, best[None], axis=0)[0]


def tempo_fit(segment_tempo: float, candidate_tempo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score 0-100, allowed mask) for each candidate tempo."""
    stretch = tempo_stretch(segment_tempo, candidate_tempo)
    allowed = (stretch >= TEMPO_WINDOW[0]) & (stretch <= TEMPO_WINDOW[1])
    limit = np.log(TEMPO_WINDOW[1])
    score = np.clip(100.0 * (1.0 - np.abs(np.log(stretch)) / limit), 0.0, 100.0)
    return score, allowed


def combine(scores: np.ndarray, weights: Weights) -> np.ndarray:
    """Weighted sum of a (..., 4) array of scores in SCORE_NAMES order."""
    return scores @ weights.as_array()
