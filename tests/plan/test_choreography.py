"""Choreography terms of the planner (issue 14): motifs come back on repeated music, a user's pick
comes back as candidate 1, the style holds within sections, and the auto path is the optimum of
its objective on a small case (checked by exhaustive search)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from choreo_engine.music import audio, features
from choreo_engine.music.structure import Section
from choreo_engine.plan import metrics, motifs
from choreo_engine.plan import planner as planner_module
from choreo_engine.plan.planner import Planner
from tests.support.data import aba_song


@pytest.fixture(scope="module")
def repeat_song():
    """A B A from a real song, 8 bars each cut on its downbeats: analysis and descriptors."""
    song, _ = aba_song()
    analysis = audio.analyze(song)
    assert any(s is not None for s in analysis.motif_sources()), "the repeat must be found to test motifs"
    return analysis, features.describe_segments(song, analysis.segments)


def test_auto_path_brings_the_motif_back(loaded, repeat_song):
    analysis, descriptors = repeat_song
    planner = Planner(loaded.library, loaded.index)
    ctx = planner.prepare(analysis, descriptors)
    path = planner.auto_path(ctx)
    sources = analysis.motif_sources()
    assert metrics.motif_reuse(path, sources) >= 0.6
    # outside the repeat no move comes back
    assert metrics.repetition_outside_repeats(path, sources) <= 0.1
    # the planner before sections does not repeat the motif
    legacy = Planner(loaded.library, loaded.index, legacy=True)
    old = legacy.auto_path(legacy.prepare(analysis, descriptors))
    assert metrics.motif_reuse(old, sources) < metrics.motif_reuse(path, sources)


def test_users_pick_in_the_first_occurrence_is_candidate_one_in_the_repeat(loaded, repeat_song):
    analysis, descriptors = repeat_song
    planner = Planner(loaded.library, loaded.index)
    ctx = planner.prepare(analysis, descriptors)
    sources = analysis.motif_sources()
    repeat = next(i for i, s in enumerate(sources) if s is not None)
    source = sources[repeat]
    # a user picks candidate 4 at the source part, the auto choices elsewhere
    history = planner.auto_path(ctx)[:source]
    options = planner.candidates(ctx, source, history[-1] if history else None, history=history)
    picked = options.items[3].position
    history = history + [picked]
    history += planner.auto_path(ctx, len(history), picked, history)[: repeat - len(history)]
    later = planner.candidates(ctx, repeat, history[-1], history=history)
    assert later.items[0].position == picked
    assert len({c.position for c in later.items}) == len(later.items)
    # without the earlier pick in the history it is an ordinary list
    plain = planner.candidates(ctx, repeat, history[-1], history=history[:source])
    assert plain.items[0].position != picked or plain.items[0].total > later.items[1].total


def test_style_holds_within_sections(loaded, repeat_song):
    analysis, descriptors = repeat_song
    planner = Planner(loaded.library, loaded.index)
    ctx = planner.prepare(analysis, descriptors)
    path = planner.auto_path(ctx)
    styles = [planner.styles[r] for r in path]
    coherence = metrics.style_coherence(styles, ctx.sections)
    legacy = Planner(loaded.library, loaded.index, legacy=True)
    old = legacy.auto_path(legacy.prepare(analysis, descriptors))
    assert coherence >= 0.8
    assert coherence > metrics.style_coherence([planner.styles[r] for r in old], ctx.sections)
    # the term itself: within a section a change costs, at a boundary it earns a little
    a, b = (int(np.flatnonzero(planner.styles == s)[0]) for s in ("house", "rock"))
    assert motifs.style_term(planner.styles, a, np.array([a, b]), True).tolist() == [0.0, -motifs.STYLE_CHANGE_PENALTY]
    assert motifs.style_term(planner.styles, a, np.array([a, b]), False).tolist() == [0.0, motifs.STYLE_CHANGE_REWARD]


def test_every_library_segment_has_a_style(loaded):
    keys = motifs.style_keys(loaded.library)
    assert all(keys)
    dancer = [s for s in loaded.library.segments if s.clip_name.startswith("dancer")]
    assert dancer and all(motifs.style_of(s) == (s.style or "unknown") for s in dancer)


def _cut_pools(ctx, keep: int):
    """Each pool cut to its first ``keep`` rows, plus, where a part repeats one, the earlier
    part's kept rows (so the motif can be chosen)."""
    for i, source in enumerate(ctx.sources):
        take = list(range(min(keep, len(ctx.pools[i]))))
        if source is not None:
            for row in ctx.pools[source][:keep]:
                hit = np.flatnonzero(ctx.pools[i] == row)
                if len(hit) and int(hit[0]) not in take:
                    take.append(int(hit[0]))
        ctx.pools[i], ctx.unary[i], ctx.stretch[i] = ctx.pools[i][take], ctx.unary[i][take], ctx.stretch[i][take]
    return ctx


@pytest.mark.parametrize("legacy", [False, True], ids=["new", "legacy"])
def test_auto_path_is_the_exhaustive_optimum_on_a_small_case(loaded, repeat_song, legacy, monkeypatch):
    """Six parts of the real song as verse, chorus, verse again (parts 4-5 repeat 0-1), three
    moves per part: every path's objective, against the auto path's."""
    analysis, descriptors = repeat_song
    segments = analysis.segments[:6]
    sections = [Section(label, group, a, b, segments[a].start, segments[b - 1].end)
                for label, group, a, b in (("verse", 0, 0, 2), ("chorus", 2, 2, 4), ("verse", 0, 4, 6))]
    small = audio.SongAnalysis(analysis.duration, analysis.sr, analysis.tempo, analysis.beats, segments,
                               sections=sections)
    planner = Planner(loaded.library, loaded.index, legacy=legacy)
    ctx = _cut_pools(planner.prepare(small, descriptors[:6]), keep=4)
    assert legacy or ctx.sources == [None, None, None, None, 0, 1]
    paths = itertools.product(*[p.tolist() for p in ctx.pools])
    best = max(planner.path_objective(ctx, list(p)) for p in paths)
    # the search keeps BEAM paths into each state: near the optimum (the look-back terms are
    # approximated), and exactly on it when the beam holds every path. The old planner (kept only
    # as the benchmark's baseline) penalises any reuse within 16 parts, which is far from what a
    # beam approximates well: 2 % off on the library of 2026-11-30, so only its exact case is held
    if not legacy:
        assert planner.path_objective(ctx, planner.auto_path(ctx)) >= best - 0.01 * abs(best)
    monkeypatch.setattr(planner_module, "BEAM", int(np.prod([len(p) for p in ctx.pools])))
    assert planner.path_objective(ctx, planner.auto_path(ctx)) == pytest.approx(best)
