"""The four scores of a candidate (pipeline steps 3-5), each 0-100, and their weighted sum.

music similarity
    Cosine similarity of the song segment's descriptor and the candidate's in the
    ``MusicIndex``'s PCA space, shown 0-100 (negative shown as 0), as in the original.
amplitude fit (original step 5)
    The song segment's per-beat loudness levels against the candidate's per-beat motion
    levels, both 0..10, as half level and half shape: the level match
    ``1 - |mean loudness - mean motion| / LEVEL_SCALE`` and the shape match
    ``(1 + Pearson r) / 2`` of the two 8-beat curves (0.5 when either is flat), times 100 and
    clipped to 0..100 (a level gap of 3 or more with a poor shape scores 0).
    What we measure is the Spearman correlation of loudness and motion over the whole song
    (``choreo bench plan``, energy fit); 61 % of the shared tracks' loudness variance lies
    inside a part, which a mean absolute difference hardly rewards (the old score,
    :func:`amplitude_fit_difference`, kept for the legacy planner): the energy fit went from a
    median 0.25 to 0.53 with this score, the song's levels re-ranked (see the planner) and the
    weights below.
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
# amplitude fit: the share of the shape match, and the mean-level gap (levels) that costs the
# whole level term; 3 levels rather than 10 makes it tell calm from busy moves (energy fit 0.45
# with 5, 0.53 with 3; 2.5 made the path rougher for no gain)
SHAPE_SHARE = 0.5
LEVEL_SCALE = 3.0


@dataclass(frozen=True)
class Weights:
    """Weights of the combined score (normalized to sum 1).

    Amplitude weighs most: with the shape-and-level amplitude fit, ``choreo bench plan`` on the
    40-song starter library gave an energy fit (median Spearman over the 26 shared tracks) of
    0.40 at 0.30/0.30/0.25/0.15 and 0.53 at 0.25/0.40/0.25/0.10 (above random paths on every
    track); amplitude alone reaches about 0.56 but doubles the transition discontinuity, and
    0.45 amplitude with 0.20 transition got 0.46 with a rougher path (0.087 torso lengths a cut,
    against 0.078 here and 0.080 for the planner before bars). :meth:`legacy` are the weights before
    (music and amplitude alike: at 0.40/0.20 the music term pulled the path to clips that moved
    too much for quiet passages).
    """

    music: float = 0.25
    amplitude: float = 0.40
    transition: float = 0.25
    tempo: float = 0.10

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

    @classmethod
    def legacy(cls) -> "Weights":
        """The weights of the planner before bars and sections (``Planner(legacy=True)``)."""
        return cls(0.30, 0.30, 0.25, 0.15)

    def as_array(self) -> np.ndarray:
        w = np.array([self.music, self.amplitude, self.transition, self.tempo], dtype=float)
        return w / w.sum()


def music_similarity(cosine: np.ndarray) -> np.ndarray:
    return np.clip(cosine, 0.0, 1.0) * 100.0


def amplitude_fit(loudness: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """``loudness`` (B,) against ``motion`` (N, B) or (B,), levels 0..10 -> (N,) or scalar:
    level and shape match (see the module docstring)."""
    loudness, motion = np.asarray(loudness, dtype=float), np.asarray(motion, dtype=float)
    level = 1.0 - np.abs(motion.mean(axis=-1) - loudness.mean()) / LEVEL_SCALE
    loud_shape = loudness - loudness.mean()
    move_shape = motion - motion.mean(axis=-1, keepdims=True)
    spread = np.sqrt((loud_shape**2).sum() * (move_shape**2).sum(axis=-1))
    r = np.divide(move_shape @ loud_shape, spread, out=np.zeros_like(spread), where=spread > 1e-9)
    return 100.0 * np.clip((1.0 - SHAPE_SHARE) * level + SHAPE_SHARE * (1.0 + r) / 2.0, 0.0, 1.0)


def song_rank_levels(segment_levels: list[np.ndarray]) -> list[np.ndarray]:
    """The song's loudness levels (one array per segment) re-ranked over the whole song -> 0..10.

    The analysis pulls a song of little dynamic range toward level 5 (so noise does not ask
    for the extremes; :func:`choreo_engine.music.audio.loudness_levels`), which leaves the level
    match nothing to tell its parts apart by; the energy fit is a rank correlation, and ranking
    the levels again raised its median from 0.45 to 0.53 (``choreo bench plan``). Ties share
    their mean rank (a flat song's levels 4, 5 and 6 become about 1.5, 5 and 8.5); a song with
    one level throughout gets 5 everywhere.
    """
    from scipy.stats import rankdata

    flat = np.concatenate([np.asarray(v, dtype=float) for v in segment_levels]) if segment_levels else np.zeros(0)
    if len(flat) < 2 or np.ptp(flat) == 0:
        return [np.full(len(v), 5.0) for v in segment_levels]
    ranked = (rankdata(flat) - 1) / (len(flat) - 1) * 10.0
    return np.split(ranked, np.cumsum([len(v) for v in segment_levels])[:-1])


def amplitude_fit_difference(loudness: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """The old amplitude fit (legacy planner): ``100 * (1 - mean |loudness - motion| / 10)``."""
    diff = np.abs(np.asarray(motion, dtype=float) - np.asarray(loudness, dtype=float))
    return 100.0 * (1.0 - diff.mean(axis=-1) / 10.0)


def _lengths(xy: np.ndarray) -> np.ndarray:
    """The length of each (x, y) on the last axis: ``np.linalg.norm(xy, axis=-1)``, the same
    numbers, without its reduction over two values (3 times slower on the planner's arrays)."""
    return np.sqrt(xy[..., 0] ** 2 + xy[..., 1] ** 2)


def transition_harmony(
    end_pose: np.ndarray, end_velocity: np.ndarray, start_poses: np.ndarray, start_velocities: np.ndarray
) -> np.ndarray:
    """The previous pick's end (J, 2) against candidates' starts (N, J, 2) or (J, 2); or
    previous picks' ends (P, 1, J, 2) against them all at once, (P, N)."""
    gap = _lengths(start_poses - end_pose).mean(axis=-1)
    vgap = _lengths(start_velocities - end_velocity).mean(axis=-1)
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
