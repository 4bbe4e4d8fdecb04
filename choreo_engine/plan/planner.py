"""Six candidates per segment, re-ranked after each pick, and an automatic best path (steps 3-6).

For each song segment the ``MusicIndex`` orders the library (own cluster first by cosine, then
the nearest clusters); candidates outside the tempo window are excluded; the first ``pool``
that remain are scored (music, amplitude, transition from the previous pick, tempo) and
ranked by the weighted sum. A list holds at most two segments of one source clip. When fewer
than six fit, the list is short and says so rather than padding with misfits.

The auto path is a Viterbi search over each segment's pool, maximizing the sum of combined
scores, with a penalty for using a library segment again within ``REPEAT_WINDOW`` segments.
That penalty depends on the path, not just the previous state, so each state carries the
history of its best path (the standard approximation of a higher-order Viterbi).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import scoring
from ..music.audio import SongAnalysis
from ..music.index import MusicIndex, unit_rows
from ..dance.library import Library

N_CANDIDATES = 6
MAX_PER_CLIP = 2
POOL = 48
# About a minute of music before a move may come back. With 4, the auto path cycled through
# four moves on the 40-song library (repetition ratio 0.33 over the 26 shared tracks); with 16
# it is 0.09 (`choreo bench plan`), for 1 point less music similarity and smoother transitions.
REPEAT_WINDOW = 16
REPEAT_PENALTY = 40.0  # points of combined score


@dataclass
class Candidate:
    position: int  # row in the Library
    segment_id: int
    rank: int  # 1-based
    scores: dict[str, float]
    total: float
    stretch: float

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "segment_id": self.segment_id,
            "total": round(self.total, 2),
            **{k: round(v, 2) for k, v in self.scores.items()},
            "stretch": round(self.stretch, 3),
        }


@dataclass
class CandidateList:
    segment_index: int
    items: list[Candidate]
    wanted: int = N_CANDIDATES

    @property
    def short(self) -> bool:
        return len(self.items) < self.wanted

    @property
    def message(self) -> str | None:
        if not self.short:
            return None
        return (f"Only {len(self.items)} dance clip(s) in the library fit this part of the song "
                f"(tempo or music too different).")


@dataclass
class SongContext:
    """Everything about one song the planner reuses across segments and picks."""

    analysis: SongAnalysis
    descriptors: np.ndarray
    pools: list[np.ndarray] = field(default_factory=list)  # per segment: library rows, index order
    unary: list[np.ndarray] = field(default_factory=list)  # per segment: (len(pool), 4) scores, transition=100
    stretch: list[np.ndarray] = field(default_factory=list)
    # per segment whose pool is empty (nothing fits it): the nearest rows by music alone and their
    # scores, so the auto path still has a move to choose there
    fallback: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n_segments(self) -> int:
        return len(self.analysis.segments)


class Planner:
    def __init__(self, library: Library, index: MusicIndex, weights: scoring.Weights | None = None,
                 pool: int = POOL) -> None:
        if len(library) == 0:
            from ..errors import EmptyLibraryError

            raise EmptyLibraryError()
        self.library = library
        self.index = index
        self.weights = weights or scoring.Weights()
        self.pool = pool
        self._tempos = library.tempos
        self._motion = library.motion_matrix(8)
        self._labels = index.labels_

    # ------------------------------------------------------------------ per song
    def prepare(self, analysis: SongAnalysis, descriptors: np.ndarray) -> SongContext:
        ctx = SongContext(analysis, np.asarray(descriptors))
        projected = self.index.project(ctx.descriptors)
        unit = projected / (np.linalg.norm(projected, axis=1, keepdims=True) + 1e-12)
        centers = self.index.kmeans_.cluster_centers_
        for i, seg in enumerate(analysis.segments):
            cos = self.index.unit_ @ unit[i]
            tempo_score, allowed = scoring.tempo_fit(seg.tempo, self._tempos)
            allowed &= cos > 0
            # the index's order: own cluster first, then nearest clusters; by cosine within
            cluster_rank = np.empty(len(centers), dtype=int)
            cluster_rank[np.argsort(np.linalg.norm(centers - projected[i], axis=1), kind="stable")] = np.arange(len(centers))
            ranked = np.lexsort((-cos, cluster_rank[self._labels]))  # every row, in the index's order
            pool = ranked[allowed[ranked]][: self.pool]
            ctx.pools.append(pool)
            ctx.unary.append(self._unary(seg, cos, tempo_score, pool))
            ctx.stretch.append(scoring.tempo_stretch(seg.tempo, self._tempos[pool]))
            if len(pool) == 0:
                nearest = ranked[: self.pool]
                ctx.fallback[i] = (nearest, self._unary(seg, cos, tempo_score, nearest))
        return ctx

    def _unary(self, seg, cos: np.ndarray, tempo_score: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """(len(pool), 4) scores of the pool's rows for one segment, transition left at 100."""
        levels = seg.loudness_levels[:8].astype(float)
        motion = self._motion[pool][:, : len(levels)]
        return np.stack([scoring.music_similarity(cos[pool]), scoring.amplitude_fit(levels, motion),
                         np.full(len(pool), 100.0), tempo_score[pool]], axis=1)

    @staticmethod
    def _auto_pool(ctx: SongContext, seg: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows the auto path may use for a segment and their scores (the fallback when none fit)."""
        return ctx.fallback.get(seg, (ctx.pools[seg], ctx.unary[seg]))

    def _transition(self, previous: int | None, pool: np.ndarray) -> np.ndarray:
        if previous is None:
            return np.full(len(pool), 100.0)
        lib = self.library
        return scoring.transition_harmony(
            lib.end_poses[previous], lib.end_velocities[previous], lib.start_poses[pool], lib.start_velocities[pool]
        )

    def candidates(self, ctx: SongContext, segment: int, previous: int | None = None,
                   n: int = N_CANDIDATES, history: list[int] | None = None) -> CandidateList:
        """The ``n`` best for one segment, given the previous pick (a Library row) if any.

        ``history`` (the picks so far) ranks a move used in the last ``REPEAT_WINDOW``
        segments lower, as the auto path does.
        """
        pool = ctx.pools[segment]
        scores = ctx.unary[segment].copy()
        scores[:, 2] = self._transition(previous, pool)
        total = scoring.combine(scores, self.weights)
        if history:
            total = total - REPEAT_PENALTY * np.isin(pool, history[-REPEAT_WINDOW:])
        items: list[Candidate] = []
        per_clip: dict[int, int] = {}
        clip_ids = self.library.clip_ids
        for j in np.argsort(-total, kind="stable"):
            clip = int(clip_ids[pool[j]])
            if per_clip.get(clip, 0) >= MAX_PER_CLIP:
                continue
            per_clip[clip] = per_clip.get(clip, 0) + 1
            row = int(pool[j])
            items.append(Candidate(row, self.library.segments[row].id, len(items) + 1,
                                   dict(zip(scoring.SCORE_NAMES, map(float, scores[j]))), float(total[j]),
                                   float(ctx.stretch[segment][j])))
            if len(items) == n:
                break
        return CandidateList(segment, items, n)

    # ------------------------------------------------------------------ auto path
    def auto_path(self, ctx: SongContext, start: int = 0, previous: int | None = None,
                  history: list[int] | None = None) -> list[int]:
        """Library rows for segments ``start..end`` maximizing the summed combined score.

        ``previous`` is the pick before ``start`` (its end pose conditions the first step) and
        ``history`` the picks so far (for the repetition penalty).
        """
        w = self.weights.as_array()
        lib = self.library
        history = list(history or [])
        n_seg = ctx.n_segments
        if start >= n_seg:
            return []
        # best[j]: score of the best path ending in state j of the current segment; paths[j]: that path
        pool, unary = self._auto_pool(ctx, start)
        unary = unary @ w - w[2] * 100.0
        best = unary + w[2] * self._transition(previous, pool)
        best -= np.array([REPEAT_PENALTY if r in history[-REPEAT_WINDOW:] else 0.0 for r in pool])
        paths = [history + [int(r)] for r in pool]
        for seg in range(start + 1, n_seg):
            cur, unary = self._auto_pool(ctx, seg)
            prev_rows = np.array([p[-1] for p in paths])
            # (P, C) transition scores from every previous state to every current state
            trans = np.stack([
                scoring.transition_harmony(lib.end_poses[r], lib.end_velocities[r],
                                           lib.start_poses[cur], lib.start_velocities[cur])
                for r in prev_rows
            ])
            total = best[:, None] + w[2] * trans + (unary @ w - w[2] * 100.0)[None, :]
            for p, path in enumerate(paths):
                recent = path[-REPEAT_WINDOW:]
                mask = np.isin(cur, recent)
                if mask.any():
                    total[p, mask] -= REPEAT_PENALTY
            arg = np.argmax(total, axis=0)
            best = total[arg, np.arange(len(cur))]
            paths = [paths[a] + [int(c)] for a, c in zip(arg, cur)]
        return paths[int(np.argmax(best))][len(history):]

    def path_scores(self, ctx: SongContext, path: list[int]) -> np.ndarray:
        """(S, 4) scores of a complete path (rows per segment), transition from the previous pick."""
        out = np.zeros((len(path), 4))
        for i, row in enumerate(path):
            pool = ctx.pools[i]
            hits = np.flatnonzero(pool == row)
            if len(hits):
                out[i] = ctx.unary[i][hits[0]]
            else:  # a row outside the pool (e.g. a random path): score it directly
                seg = ctx.analysis.segments[i]
                cos = float(self.index.unit_[row] @ unit_rows(self.index.project(ctx.descriptors[i]))[0])
                tempo_score, _ = scoring.tempo_fit(seg.tempo, self._tempos[[row]])
                levels = seg.loudness_levels[:8].astype(float)
                out[i] = [scoring.music_similarity(cos), scoring.amplitude_fit(levels, self._motion[row][: len(levels)]),
                          100.0, tempo_score[0]]
            out[i, 2] = self._transition(path[i - 1] if i else None, np.array([row]))[0]
        return out
