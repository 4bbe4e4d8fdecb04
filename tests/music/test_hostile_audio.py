"""Hostile files at the engine (issue 12): each refused with its own reason, in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from choreo_engine import ffmpeg as engine_ffmpeg
from choreo_engine.errors import ChoreoError, NoBeatError
from choreo_engine.music import audio
from choreo_engine.video.final import _song_duration
from tests.support.data import PROJECT_ROOT, ffmpeg, shared
from tests.support.hostile import UNSUPPORTED, square_wave_flac

# What the bot refuses from the message itself, the engine refuses by the file's first bytes.
ENGINE_CODE = {UNSUPPORTED: "unsupported_format"}
# Ten seconds of decoding: the bot's test and the memory test below have it.
LEFT_TO_THE_BOT = {"8 ch 192 kHz flac, 9.5 min"}


def test_each_hostile_file_gets_its_own_refusal(hostile_corpus):
    wrong = {}
    for f in hostile_corpus:
        if f.name in LEFT_TO_THE_BOT:
            continue
        expected = ENGINE_CODE.get(f.expected, f.expected)
        try:
            audio.load_and_analyze(f.path)
            got = "accepted"
        except ChoreoError as exc:
            got = exc.code
        if got != expected:
            wrong[f.name] = (expected, got)
    assert wrong == {}


PEAK_AFTER = """
import json, resource, sys
from choreo_engine.music import audio
peaks = []
for path in sys.argv[1:]:
    n = len(audio.decode(path))
    peaks.append((n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
print(json.dumps(peaks))
"""


def test_decoding_is_bounded_in_memory_whatever_the_channels_and_rate(tmp_path):
    """Three minutes of 8 channels at 192 kHz: 1.1 GB of float32 at the file's own rate and
    channels (as decoded before), 16 MB as decoded now (mono at 22.05 kHz)."""
    small = tmp_path / "small.flac"
    ffmpeg("-i", str(shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")), "-vn", "-t", "10", str(small))
    big = square_wave_flac(tmp_path / "8ch-192k.flac", 180)
    proc = subprocess.run([sys.executable, "-c", PEAK_AFTER, str(small), str(big)], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, check=True)
    (n_small, peak_small), (n_big, peak_big) = json.loads(proc.stdout)
    assert n_small == pytest.approx(10 * audio.SAMPLE_RATE, abs=audio.SAMPLE_RATE / 10)
    assert n_big == pytest.approx(180 * audio.SAMPLE_RATE, abs=audio.SAMPLE_RATE / 10)
    # the big one adds its own samples (3 minutes of mono float32: 16 MB) and a little more
    assert peak_big - peak_small < 100 * 2**20, f"{(peak_big - peak_small) / 2**20:.0f} MB more"


def test_a_sound_without_attacks_has_no_beat(tmp_path):
    sr = audio.SAMPLE_RATE
    t = np.arange(30 * sr) / sr
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    late_tone = np.concatenate([np.zeros(3 * sr, np.float32), tone])
    white = np.random.default_rng(3).normal(0, 0.05, 30 * sr).astype(np.float32)
    for y in (tone, late_tone, white):
        with pytest.raises(NoBeatError):
            audio.analyze(y)
    # the real dancer's soft, muffled track has fewer attacks than any song here, and a beat
    analysis = audio.analyze(audio.decode(shared("dance", "video_mgt", "dancer.avi"), max_seconds=None))
    assert len(analysis.segments) >= 4


def test_a_lying_header_does_not_set_the_dance_length(tmp_path):
    """An mp3 cut to a third keeps its header's 30 s: the final video follows the 10 s decoded."""
    whole = tmp_path / "whole.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=f=330:d=30", "-c:a", "libmp3lame", "-b:a", "64k", str(whole))
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    decoded = len(audio.decode(cut)) / audio.SAMPLE_RATE
    assert decoded == pytest.approx(10.0, abs=0.5)
    assert engine_ffmpeg.probe_duration(cut) == pytest.approx(30.0, abs=0.1)  # the header's claim
    assert _song_duration(cut, decoded) == decoded
    assert _song_duration(whole, 29.99) == pytest.approx(30.0, abs=0.1)  # an honest header stands
