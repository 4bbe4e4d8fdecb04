"""Six candidates per segment, re-ranked after each pick, and an automatic best path (steps 3-6).

For each song segment the ``MusicIndex`` orders the library (own cluster first by cosine, then
the nearest clusters); candidates outside the tempo window are excluded; the first ``pool``
that remain are scored (music, amplitude, transition from the previous pick, tempo) and
ranked by the weighted sum. A list holds at most two segments of one source clip. When fewer
than six fit, the list is short and says so rather than padding with misfits.

The auto path is a Viterbi search over each segment's pool, maximizing the sum of combined
scores plus the choreography terms (points of combined score, :mod:`.motifs`):

* motif: a part that repeats an earlier part's music (same place in a repeated section, from
  :mod:`choreo_engine.music.structure`) earns ``MOTIF_BONUS`` for bringing back that part's
  move; its pool also holds the earlier part's pool, so the move is there to bring back. In the
  six candidates the earlier pick (a user's too) is candidate 1.
* style: changing dance style between two parts of one section costs ``STYLE_CHANGE_PENALTY``;
  changing at a section boundary earns ``STYLE_CHANGE_REWARD``.
* repetition: using a library segment again within ``REPEAT_WINDOW`` segments costs
  ``REPEAT_PENALTY`` - except an intended motif repeat.

Motif and repetition depend on the path, not just the previous state, so each state carries
the histories of its ``BEAM`` best paths (an approximation of a higher-order Viterbi, checked
against an exhaustive search on a small case; the pairwise terms - transition and style - are
exact). ``legacy=True`` is the planner before
bars and sections (no motif or style terms, loudness in dB above the floor), kept for
``choreo bench plan``'s side-by-side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import motifs, scoring
from ..music.audio import SongAnalysis, loudness_levels_db
from ..music.index import MusicIndex, unit_rows
from ..dance.library import Library

N_CANDIDATES = 6
MAX_PER_CLIP = 2
# Library rows scored per segment (the index's nearest that fit the tempo). 96 rather than 48:
# with the amplitude fit weighing most, a wider pool lets the path find moves of the music's
# energy without larger jumps between parts (energy fit 0.50 -> 0.53, transition discontinuity
# 0.088 -> 0.078 torso lengths, `choreo bench plan`); the legacy planner keeps 48.
POOL = 96
LEGACY_POOL = 48
# About a minute of music before a move may come back. With 4, the auto path cycled through
# four moves on the 40-song library (repetition ratio 0.33 over the 26 shared tracks); with 16
# it is 0.09 (`choreo bench plan`), for 1 point less music similarity and smoother transitions.
REPEAT_WINDOW = 16
REPEAT_PENALTY = 40.0  # points of combined score
# Paths kept into each state of the auto path's Viterbi search: with 1 (a plain Viterbi) the
# motif bonus is missed when the best path into the earlier part's state is not the one whose
# move comes back; the small exhaustive check in tests/plan/test_choreography.py needs 2-3.
BEAM = 4


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
    sources: list[int | None] = field(default_factory=list)  # per segment: the part it repeats
    sections: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # per segment: section number
    # per segment whose pool is empty (nothing fits it): the nearest rows by music alone and their
    # scores, so the auto path still has a move to choose there
    fallback: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    levels: list[np.ndarray] = field(default_factory=list)  # per segment: the loudness levels amplitude fit reads

    @property
    def n_segments(self) -> int:
        return len(self.analysis.segments)


class Planner:
    def __init__(self, library: Library, index: MusicIndex, weights: scoring.Weights | None = None,
                 pool: int | None = None, legacy: bool = False) -> None:
        if len(library) == 0:
            from ..errors import EmptyLibraryError

            raise EmptyLibraryError()
        self.library = library
        self.index = index
        self.weights = weights or (scoring.Weights.legacy() if legacy else scoring.Weights())
        self.pool = pool or (LEGACY_POOL if legacy else POOL)
        self._tempos = library.tempos
        self._motion = library.motion_matrix(8)
        self._labels = index.labels_
        self.legacy = legacy
        self.styles = motifs.style_keys(library)

    def _song_levels(self, analysis: SongAnalysis) -> list[np.ndarray]:
        """Per segment, the first 8 beats' loudness levels the amplitude fit compares: dB above
        the floor for the legacy planner, else the song's levels ranked again over the song."""
        if self.legacy:
            out, first = [], 0
            for seg in analysis.segments:
                if len(analysis.beat_loudness_db):
                    db = analysis.beat_loudness_db[first: first + 8]
                    out.append(loudness_levels_db(db, analysis.floor_db).astype(float))
                else:
                    out.append(seg.loudness_levels[:8].astype(float))
                first += len(seg.beats)
            return out
        return [v[:8] for v in scoring.song_rank_levels([s.loudness_levels for s in analysis.segments])]

    def _amplitude_fit(self, levels: np.ndarray, motion: np.ndarray) -> np.ndarray:
        fit = scoring.amplitude_fit_difference if self.legacy else scoring.amplitude_fit
        return fit(levels, motion)

    # ------------------------------------------------------------------ per song
    def prepare(self, analysis: SongAnalysis, descriptors: np.ndarray) -> SongContext:
        ctx = SongContext(analysis, np.asarray(descriptors))
        projected = self.index.project(ctx.descriptors)
        unit = projected / (np.linalg.norm(projected, axis=1, keepdims=True) + 1e-12)
        centers = self.index.kmeans_.cluster_centers_
        ctx.sources = [None] * ctx.n_segments if self.legacy else analysis.motif_sources()
        ctx.sections = motifs.section_numbers(analysis)
        ctx.levels = self._song_levels(analysis)
        cosines, scores, allowed_rows, rankings = [], [], [], []  # rankings: only where nothing fits
        for i, seg in enumerate(analysis.segments):
            cos = self.index.unit_ @ unit[i]
            tempo_score, allowed = scoring.tempo_fit(seg.tempo, self._tempos)
            allowed &= cos > 0
            # the index's order: own cluster first, then nearest clusters; by cosine within
            cluster_rank = np.empty(len(centers), dtype=int)
            cluster_rank[np.argsort(np.linalg.norm(centers - projected[i], axis=1), kind="stable")] = np.arange(len(centers))
            rows = np.flatnonzero(allowed)
            order = np.lexsort((-cos[rows], cluster_rank[self._labels[rows]]))
            ctx.pools.append(rows[order[: self.pool]])
            if len(rows) == 0:  # nothing fits: the nearest rows by music alone, for the auto path
                rankings.append(np.lexsort((-cos, cluster_rank[self._labels]))[: self.pool])
            else:
                rankings.append(None)
            cosines.append(cos)
            scores.append(tempo_score)
            allowed_rows.append(allowed)
        for i, source in enumerate(ctx.sources):
            if source is not None:  # the earlier part's moves, to bring back
                extra = ctx.pools[source][allowed_rows[i][ctx.pools[source]]]
                ctx.pools[i] = np.concatenate([ctx.pools[i], extra[~np.isin(extra, ctx.pools[i])]])
        for i, seg in enumerate(analysis.segments):
            pool, cos, tempo_score = ctx.pools[i], cosines[i], scores[i]
            ctx.unary.append(self._unary(ctx, i, cos, tempo_score, pool))
            ctx.stretch.append(scoring.tempo_stretch(seg.tempo, self._tempos[pool]))
            if len(pool) == 0:
                nearest = rankings[i]
                ctx.fallback[i] = (nearest, self._unary(ctx, i, cos, tempo_score, nearest))
        return ctx

    def _unary(self, ctx: SongContext, i: int, cos: np.ndarray, tempo_score: np.ndarray,
               pool: np.ndarray) -> np.ndarray:
        """(len(pool), 4) scores of the pool's rows for segment ``i``, transition left at 100."""
        levels = ctx.levels[i]
        motion = self._motion[pool][:, : len(levels)]
        return np.stack([scoring.music_similarity(cos[pool]), self._amplitude_fit(levels, motion),
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
                   n: int = N_CANDIDATES, history: list[int] | None = None,
                   next_pick: int | None = None) -> CandidateList:
        """The ``n`` best for one segment, given the previous pick (a Library row) if any.

        ``history`` (the picks of the segments before this one, in order) ranks a move used in
        the last ``REPEAT_WINDOW`` segments lower and brings back the move of the part this one
        repeats as candidate 1, as the auto path does; the style terms follow ``previous``.
        ``next_pick`` (a Library row), when the part after this one is already chosen (changing
        a part afterwards), makes the transition score the mean of the way in and the way out.
        """
        pool = ctx.pools[segment]
        scores = ctx.unary[segment].copy()
        scores[:, 2] = self._transition(previous, pool)
        if next_pick is not None:
            lib = self.library
            into_next = scoring.transition_harmony(lib.start_poses[next_pick], lib.start_velocities[next_pick],
                                                   lib.end_poses[pool], lib.end_velocities[pool])
            scores[:, 2] = (scores[:, 2] + into_next) / 2
        total = scoring.combine(scores, self.weights)
        history = list(history or [])
        motif_row = self._motif_row(ctx, segment, history, len(history))
        if previous is not None and not self.legacy:
            total = total + motifs.style_term(self.styles, previous, pool, motifs.same_section(ctx, segment))
        if history:
            total = total - REPEAT_PENALTY * (np.isin(pool, history[-REPEAT_WINDOW:]) & (pool != motif_row))
        if motif_row is not None:
            total = total + motifs.MOTIF_BONUS * (pool == motif_row)
        items: list[Candidate] = []
        per_clip: dict[int, int] = {}
        clip_ids = self.library.clip_ids
        order = np.argsort(-total, kind="stable")
        if motif_row is not None:  # the earlier part's move comes first, whatever its score
            order = np.concatenate([order[pool[order] == motif_row], order[pool[order] != motif_row]])
        for j in order:
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

    def _motif_row(self, ctx: SongContext, segment: int, path: list[int], at: int) -> int | None:
        """The move of the part ``segment`` repeats, when ``path`` (whose index ``at`` is
        ``segment``) has it; None in the legacy planner or where nothing repeats."""
        source = ctx.sources[segment] if segment < len(ctx.sources) else None
        if source is None:
            return None
        k = at - (segment - source)
        return int(path[k]) if 0 <= k < len(path) else None

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
        motif_row = self._motif_row(ctx, start, history, len(history))
        best -= REPEAT_PENALTY * (np.isin(pool, history[-REPEAT_WINDOW:]) & (pool != motif_row))
        if motif_row is not None:
            best += motifs.MOTIF_BONUS * (pool == motif_row)
        if previous is not None and not self.legacy:
            best += motifs.style_term(self.styles, previous, pool, motifs.same_section(ctx, start))
        paths = [history + [int(r)] for r in pool]
        for seg in range(start + 1, n_seg):
            cur, unary = self._auto_pool(ctx, seg)
            prev_rows = np.array([p[-1] for p in paths])
            # (P, C) transition scores from every previous state to every current state, in one
            # broadcast (a call per previous state was 60 % of a 3-minute song's planning)
            trans = scoring.transition_harmony(lib.end_poses[prev_rows][:, None],
                                               lib.end_velocities[prev_rows][:, None],
                                               lib.start_poses[cur], lib.start_velocities[cur])
            total = best[:, None] + w[2] * trans + (unary @ w - w[2] * 100.0)[None, :]
            if not self.legacy:
                total += motifs.style_matrix(self.styles, prev_rows, cur, motifs.same_section(ctx, seg))
            at = len(paths[0])  # every path has the same length: its index for this segment
            # (P, C): the state's move is among the path's last REPEAT_WINDOW moves
            recent = np.array([path[-REPEAT_WINDOW:] for path in paths])
            repeated = (cur[None, :, None] == recent[:, None, :]).any(axis=-1)
            for p, path in enumerate(paths):
                motif_row = self._motif_row(ctx, seg, path, at)
                if motif_row is not None:  # the motif's move comes back: a bonus, not a repetition
                    is_motif = cur == motif_row
                    repeated[p] &= ~is_motif
                    total[p, is_motif] += motifs.MOTIF_BONUS
            total -= REPEAT_PENALTY * repeated
            # keep the BEAM best paths into each state: the motif and repetition terms look back
            # along the path, so the best path into a state need not be the best one to extend
            k = min(BEAM, len(paths))
            arg = np.argsort(-total, axis=0, kind="stable")[:k]  # (k, C)
            best = total[arg, np.arange(len(cur))[None, :]].ravel()
            paths = [paths[a] + [int(c)] for a, c in zip(arg.ravel(), np.tile(cur, k))]
        return paths[int(np.argmax(best))][len(history):]

    def path_objective(self, ctx: SongContext, path: list[int]) -> float:
        """What :meth:`auto_path` maximizes, for a complete path from segment 0 (for checking it
        against an exhaustive search)."""
        w = self.weights.as_array()
        scores = self.path_scores(ctx, path)
        total = float((scores @ w).sum())
        for i, row in enumerate(path):
            motif_row = self._motif_row(ctx, i, path[:i], i)
            if motif_row is not None and row == motif_row:
                total += motifs.MOTIF_BONUS
            elif row in path[max(0, i - REPEAT_WINDOW): i]:
                total -= REPEAT_PENALTY
            if i and not self.legacy:
                total += float(motifs.style_term(self.styles, path[i - 1], np.array([row]),
                                                 motifs.same_section(ctx, i))[0])
        return total

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
                levels = ctx.levels[i]
                out[i] = [scoring.music_similarity(cos), self._amplitude_fit(levels, self._motion[row][: len(levels)]),
                          100.0, tempo_score[0]]
            out[i, 2] = self._transition(path[i - 1] if i else None, np.array([row]))[0]
        return out
