"""The choreography metrics of ``choreo bench plan``, per track: the auto path, random paths from
the same pools, and the planner before bars and sections (``Planner(legacy=True)`` on the old
8-beats-from-the-first-beat parts and dB loudness levels), side by side.

Metrics (:mod:`choreo_engine.plan.metrics`): part starts on a downbeat (the downbeats of our
bar estimate: the real tracks have no annotated bars; synthesized songs with known bars are in
``choreo bench downbeats``), style coherence within sections, motif reuse, energy fit (Spearman
of per-beat loudness in dB and the chosen move's motion level on that beat), BAS both ways,
transition discontinuity, and repetition over non-repeating music. Sections and repeats are the
new analysis's for every variant; an old part belongs to the section holding its middle, and
repeats an earlier part when the same offset into the first occurrence of its section's repeat
group falls in that part.
"""

from __future__ import annotations

import numpy as np

from ..dance.composition import compose_dance
from ..music import audio, features
from ..plan import metrics, motifs, scoring
from ..plan.planner import Planner

FPS = 30.0


def old_analysis(y: np.ndarray, new: audio.SongAnalysis) -> audio.SongAnalysis:
    """The same beats cut the old way: 8 at a time from the first beat, dB loudness levels."""
    levels = audio.loudness_levels_db(new.beat_loudness_db, new.floor_db)
    segments, first = [], 0
    for i, (start, end, beats) in enumerate(audio.segment_beats(new.beats, new.duration, 8)):
        segments.append(audio.Segment(i, start, end, np.asarray(beats), levels[first: first + len(beats)]))
        first += len(beats)
    return audio.SongAnalysis(new.duration, new.sr, new.tempo, new.beats, segments, 8, new.floor_db,
                              new.beat_loudness_db, new.meter, new.downbeats, [])


def time_sections(parts: list[audio.Segment], sections: list) -> tuple[np.ndarray, list[int | None]]:
    """Per part: the number of the section holding its middle, and the earlier part it repeats."""
    sections = sorted(sections, key=lambda s: s.start)
    mids = np.array([(p.start + p.end) / 2 for p in parts])
    starts = np.array([p.start for p in parts])
    number = np.clip(np.searchsorted([s.start for s in sections], mids, side="right") - 1, 0, len(sections) - 1)
    first_of: dict[int, object] = {}
    for s in sections:
        first_of.setdefault(s.group, s)
    sources: list[int | None] = []
    for i, k in enumerate(number):
        s = sections[k]
        origin = first_of[s.group]
        if origin is s:
            sources.append(None)
            continue
        t = origin.start + (mids[i] - s.start)
        j = int(np.searchsorted(starts, t, side="right") - 1)
        sources.append(j if 0 <= j < i and t < origin.stop else None)
    return number, sources


def _beat_motion(analysis: audio.SongAnalysis, library, path: list[int]) -> np.ndarray:
    out = []
    for seg, row in zip(analysis.segments, path):
        levels = np.asarray(library.segments[row].motion_levels, dtype=float)
        out.extend(levels[np.minimum(np.arange(len(seg.beats)), len(levels) - 1)])
    return np.array(out)


def path_metrics(analysis: audio.SongAnalysis, library, styles: np.ndarray, path: list[int],
                 sections: list, pose_cache: dict) -> dict:
    number, sources = time_sections(analysis.segments, sections)
    dance = compose_dance(analysis, library, path, FPS, pose_cache)
    kin = metrics.dance_beats(dance, FPS)
    ends = np.array([library.end_poses[r] for r in path[:-1]])
    starts = np.array([library.start_poses[r] for r in path[1:]])
    return {
        "downbeat_share": metrics.downbeat_share([s.start for s in analysis.segments[1:]],
                                                 analysis.downbeat_times) if len(path) > 1 else None,
        "style_coherence": metrics.style_coherence([styles[r] for r in path], number),
        "motif_reuse": metrics.motif_reuse(path, sources),
        "energy_fit": metrics.energy_fit(analysis.beat_loudness_db, _beat_motion(analysis, library, path)),
        "bas_music_to_dance": metrics.bas_music_to_dance(analysis.beats, kin),
        "bas_dance_to_music": metrics.bas_dance_to_music(analysis.beats, kin),
        "transition_discontinuity": float(metrics.transition_discontinuity(ends, starts).mean()) if len(path) > 1 else 0.0,
        "repetition_outside_repeats": metrics.repetition_outside_repeats(path, sources),
    }


def track_metrics(y: np.ndarray, analysis: audio.SongAnalysis, descriptors: np.ndarray, library, index,
                  weights, rng: np.random.Generator, random_paths: int, pose_cache: dict) -> dict:
    """Every metric for one analysed track: auto, mean of ``random_paths`` random paths, old planner."""
    styles = motifs.style_keys(library)
    planner = Planner(library, index, weights)
    ctx = planner.prepare(analysis, descriptors)
    if any(len(p) == 0 for p in ctx.pools):
        return {}
    out = {"auto": path_metrics(analysis, library, styles, planner.auto_path(ctx), analysis.sections, pose_cache)}
    randoms = [path_metrics(analysis, library, styles, [int(rng.choice(p)) for p in ctx.pools], analysis.sections,
                            pose_cache) for _ in range(random_paths)]
    out["random"] = {k: _mean([r[k] for r in randoms]) for k in randoms[0]}
    old = old_analysis(y, analysis)
    old_desc = features.describe_segments(y, old.segments)
    legacy = Planner(library, index, scoring.Weights.legacy(), legacy=True)  # the planner before, as it was
    old_ctx = legacy.prepare(old, old_desc)
    if any(len(p) == 0 for p in old_ctx.pools):
        return out
    out["old_planner"] = path_metrics(old, library, styles, legacy.auto_path(old_ctx), analysis.sections, pose_cache)
    return out


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarize_tracks(per_track: dict[str, dict]) -> dict:
    """Per variant and metric: mean over tracks (median for energy fit), plus where auto beats random."""
    variants = ("auto", "random", "old_planner")
    out: dict = {}
    for v in variants:
        rows = [t[v] for t in per_track.values() if v in t]
        if not rows:
            continue
        out[v] = {}
        for k in rows[0]:
            values = [r[k] for r in rows if r[k] is not None]
            if not values:
                continue
            agg = np.median if k == "energy_fit" else np.mean
            out[v][k] = round(float(agg(values)), 4)
    both = [t for t in per_track.values() if "auto" in t and "random" in t]
    out["auto_energy_fit_above_random_on_tracks"] = f"{sum(t['auto']['energy_fit'] > t['random']['energy_fit'] for t in both)}/{len(both)}"
    return out
