"""The real dancer's music has no tempo to read (issue 14: "reads 167 against a stated ~152").

Its notes say "~152 BPM (may be 76)", which is librosa's default beat tracker on one decoding.
These tests hold the evidence that the audio does not carry that number (``choreo bench tempo``
prints it): no tempo stands out in it as one does in every song with a known tempo, the track
is one excerpt played three times, and librosa's own reading moves with the sample rate."""

from __future__ import annotations

import numpy as np
import pytest

from choreo_engine.bench import tempo
from choreo_engine.bench.common import DANCER
from choreo_engine.music import audio
from tests.support.data import shared


@pytest.fixture(scope="module")
def dancer_music():
    return audio.decode(shared(*DANCER), max_seconds=None)


def test_no_tempo_stands_out_in_the_dancers_music(dancer_music):
    dancer = tempo.pulse_contrast(tempo.onset_envelope(dancer_music))
    known = []
    for song, stated in tempo.EXACT_TEMPO:
        y = audio.decode(shared(*song), max_seconds=None)
        measured, _ = audio.beat_track(y)
        assert tempo.tempo_right(measured, tempo.stated_tempo(stated)), song  # where there is a pulse, it is read
        known.append(tempo.pulse_contrast(tempo.onset_envelope(y)))
    # every song with a known tempo has a clear best tempo; the dancer's music has none
    assert dancer < 0.8 * min(known), (dancer, known)


def test_the_dancers_music_is_one_excerpt_three_times(dancer_music):
    env = tempo.onset_envelope(dancer_music)
    takes = tempo.repeated_takes(env)
    gaps = np.diff(takes)
    assert len(takes) == 3 and np.all(np.abs(gaps - gaps.mean()) < 0.5) and gaps.min() > 18, takes
    # the same music read three times gives tempi further apart than the 4 % the issue asks for
    fps = audio.SAMPLE_RATE / audio.HOP_LENGTH
    per_take = [audio.estimate_tempo(env[int(s * fps): int((s + 16) * fps)]) for s in takes]
    assert max(per_take) / min(per_take) > 1.04, per_take


def test_librosas_152_depends_on_the_sample_rate(dancer_music):
    at_22k, _ = tempo.librosa_default_tempo(dancer_music, audio.SAMPLE_RATE)
    at_44k, _ = tempo.librosa_default_tempo(audio.decode(shared(*DANCER), sr=44_100, max_seconds=None), 44_100)
    assert tempo.tempo_right(at_22k, tempo.DANCER_STATED)  # where the stated number comes from
    assert not tempo.tempo_right(at_44k, tempo.DANCER_STATED)  # 143.6: the same file
