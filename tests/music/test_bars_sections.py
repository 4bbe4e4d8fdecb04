"""Bars, 8-count segments on downbeats, sections with repeats, loudness on the song's own scale
(issue 14): synthesized songs with known bars and a real shared song with a known repeat."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from choreo_engine.bench.downbeats import TOLERANCE, known_bar_songs
from choreo_engine.music import audio
from choreo_engine.plan import metrics
from tests.support.data import aba_song, shared

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture(scope="module")
def bar_songs():
    """One 4/4 song per pickup of 1-3 beats and a waltz, from the starter's synthesizer."""
    songs = {s["name"]: s for s in known_bar_songs(n_per_style=1)}
    return [songs[name] for name in ("funk-0", "house-0", "pop-0", "waltz-0")]


def test_parts_start_on_known_downbeats(bar_songs):
    for song in bar_songs:
        analysis = audio.analyze(song["y"])
        assert analysis.meter == song["meter"], song["name"]
        starts = [s.start for s in analysis.segments[1:]]
        assert metrics.downbeat_share(starts, song["downbeats"], TOLERANCE) >= 0.9, song["name"]
        # a count is two bars: 8 beats in 4/4, 6 in waltz time (the lead-in and the tail aside)
        assert {len(s.beats) for s in analysis.segments[1:-1]} == {2 * song["meter"]}, song["name"]
        # the first part holds the pickup: it ends on a downbeat, with at most one bar before it
        assert len(analysis.segments[0].beats) < 2 * song["meter"] + song["meter"]


def test_old_counting_misses_downbeats_the_new_one_finds(bar_songs):
    """The same beats cut 8 at a time from the first beat land off the 1 when a song starts mid-bar."""
    song = next(s for s in bar_songs if s["meter"] == 4 and s["pickup"] in (1, 3))
    analysis = audio.analyze(song["y"])
    old = audio.segment_beats(analysis.beats, analysis.duration, 8)
    old_share = metrics.downbeat_share([s for s, _, _ in old[1:]], song["downbeats"], TOLERANCE)
    new_share = metrics.downbeat_share([s.start for s in analysis.segments[1:]], song["downbeats"], TOLERANCE)
    assert old_share < 0.5 <= 0.9 <= new_share


@pytest.fixture(scope="module")
def repeat_song():
    """A B A from a real song: A and B are 8 bars each, cut on the song's own downbeats."""
    return aba_song()


def test_sections_find_a_known_repeat(repeat_song):
    y, length = repeat_song
    analysis = audio.analyze(y)
    sections = analysis.sections
    assert {s.label for s in sections} <= {"intro", "verse", "chorus", "bridge", "outro"}
    assert sections[0].first == 0 and sections[-1].end == len(analysis.segments)
    beat = 60.0 / analysis.tempo
    first_a = next(s for s in sections if s.start < 2 * beat)
    # within a bar and a beat: the bars are found, but which bar of a pair starts a count is not
    bar = analysis.meter * beat
    second_a = next(s for s in sections if abs(s.start - 2 * length) < bar + beat)
    assert first_a.group == second_a.group  # the repeat is identified
    middle_b = analysis.section_of(next(i for i, s in enumerate(analysis.segments) if s.start >= 1.5 * length))
    assert middle_b.group != first_a.group  # and B is not A
    # the repeated parts point at the parts that play the same music, one A-length earlier
    sources = analysis.motif_sources()
    pairs = [(i, j) for i, j in enumerate(sources) if j is not None]
    assert len(pairs) >= 2
    for i, j in pairs:
        assert abs((analysis.segments[i].start - analysis.segments[j].start) - 2 * length) < bar + beat


def test_analysis_round_trips_and_old_stored_analyses_load(repeat_song):
    analysis = audio.analyze(repeat_song[0])
    doc = analysis.to_dict()
    back = audio.SongAnalysis.from_dict(doc)
    assert back.meter == analysis.meter
    assert back.downbeats.tolist() == analysis.downbeats.tolist()
    assert [s.to_dict() for s in back.sections] == doc["sections"]
    old = {k: v for k, v in doc.items() if k not in ("meter", "downbeats", "sections")}
    loaded = audio.SongAnalysis.from_dict(old)
    assert loaded.meter == 4 and len(loaded.downbeats) == 0 and loaded.sections == []
    assert loaded.motif_sources() == [None] * len(loaded.segments)


def test_loudness_levels_on_the_songs_own_scale():
    """Levels follow the beats' loudness ranks and spread over 0..10, as motion levels do."""
    y = audio.decode(shared(*VIBE_ACE), max_seconds=None)
    analysis = audio.analyze(y)
    levels = np.concatenate([s.loudness_levels for s in analysis.segments])
    assert spearmanr(levels, analysis.beat_loudness_db).statistic > 0.95
    old = audio.loudness_levels_db(analysis.beat_loudness_db, analysis.floor_db)
    assert np.ptp(levels) > np.ptp(old)
    assert 3 <= np.median(levels) <= 7
    # a song with a 2 dB range stays near the middle instead of being stretched to the extremes
    flat = audio.loudness_levels(np.linspace(-20.0, -18.0, 64))
    assert flat.min() >= 4 and flat.max() <= 6
    wide = audio.loudness_levels(np.linspace(-40.0, -10.0, 64))
    assert wide.min() == 0 and wide.max() == 10
