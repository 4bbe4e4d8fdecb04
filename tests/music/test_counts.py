"""Dancers' counts on the beats: from each part's first beat, from known downbeats (a pickup counts
7, 8 into the 1), and phrases from sections when the analysis has them (dicts or objects)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from choreo_engine.music import audio
from choreo_engine.music.counts import count_beats, section_labels


def _grid(n_parts: int = 6, beat: float = 0.5, offset: float = 0.3) -> audio.SongAnalysis:
    """Parts of 8 beats on a steady grid (the analysis a steady 120 BPM song gives)."""
    beats = offset + beat * np.arange(8 * n_parts)
    parts = [audio.Segment(i, float(beats[8 * i]), float(beats[8 * i] + 8 * beat), beats[8 * i:8 * i + 8],
                           np.zeros(8, int)) for i in range(n_parts)]
    return audio.SongAnalysis(float(parts[-1].end), audio.SAMPLE_RATE, 120.0, beats, parts)


def test_counts_from_each_parts_first_beat_and_phrases_of_four_eights():
    counts = count_beats(_grid())
    assert counts.counts.tolist() == list(range(1, 9)) * 6
    assert np.flatnonzero(counts.phrase_start).tolist() == [0, 32]  # parts 1 and 5
    assert counts.beat_at([0.0, 0.3, 0.79, 0.8]).tolist() == [-1, 0, 0, 1]
    assert section_labels(_grid()) == [None] * 6


def test_the_1_falls_on_the_downbeat_when_the_analysis_knows_it():
    analysis = _grid()
    analysis.downbeats = np.arange(2, len(analysis.beats), 4)  # beat indices: bars start two beats into each part
    counts = count_beats(analysis)
    assert counts.counts[:10].tolist() == [7, 8, 1, 2, 3, 4, 5, 6, 7, 8]
    assert counts.phrase_start[2] and not counts.phrase_start[0]


def test_sections_name_the_parts_and_start_the_phrases():
    analysis = _grid()
    analysis.sections = [{"start": 0.0, "end": 8.3, "label": "verse"},
                         {"start": analysis.segments[2].start, "label": "chorus"}]
    assert section_labels(analysis) == ["verse", "verse", "chorus", "chorus", "chorus", "chorus"]
    assert np.flatnonzero(count_beats(analysis).phrase_start).tolist() == [0, 16]
    analysis.sections = [SimpleNamespace(start=0.0, end=99.0, name="intro", label=None),
                         SimpleNamespace(start=analysis.segments[4].start, end=99.0, name=None, label="bridge")]
    assert section_labels(analysis) == ["intro"] * 4 + ["bridge"] * 2
    assert np.flatnonzero(count_beats(analysis).phrase_start).tolist() == [0, 32]
