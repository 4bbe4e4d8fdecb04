"""A part of a song nothing in the library fits (issue 12, item 4): no candidates are offered for
it, and the auto path still chooses a move there instead of failing."""

from __future__ import annotations

import numpy as np

from bot import choreography
from tests.support.data import ffmpeg, shared


def test_auto_path_chooses_a_move_where_nothing_fits(loaded, library_settings, tmp_path):
    excerpt = tmp_path / "song.wav"
    ffmpeg("-t", "16", "-i", str(shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")), str(excerpt))
    song = choreography.analyse_song(excerpt, library_settings)
    segments = song.analysis.segments
    assert len(segments) >= 3
    odd = segments[1]
    odd.beats = odd.start + 0.1 * np.arange(len(odd.beats))  # 600 BPM: no dancer's tempo is near it
    planner = loaded.planner
    ctx = planner.prepare(song.analysis, song.descriptors)
    assert len(ctx.pools[1]) == 0 and planner.candidates(ctx, 1).items == []
    assert all(len(ctx.pools[i]) for i in range(len(segments)) if i != 1)

    path = planner.auto_path(ctx)
    assert len(path) == len(segments)
    assert path[1] in ctx.fallback[1][0]  # the nearest move by music, though its tempo is far off
    assert path[0] in ctx.pools[0] and path[2] in ctx.pools[2]
    # starting from the odd part (the auto button on it) works too
    rest = planner.auto_path(ctx, 1, path[0], path[:1])
    assert len(rest) == len(segments) - 1
