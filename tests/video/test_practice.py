"""The practice video: slow-down with the pitch kept, the mirror, the counts on screen, the loop.

Material: the real dancer of the test library, danced on its own beats (its first library
segments as the song's parts, so song time = clip time), with a 440 Hz test tone as the song.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from choreo_engine import ffmpeg as engine_ffmpeg
from choreo_engine.dance import pose
from choreo_engine.music import audio
from choreo_engine.video import Shot
from choreo_engine.video.practice import render_practice
from tests.support.data import ffmpeg

TONE_HZ = 440.0
N_PARTS = 3


@dataclass
class Dance:
    shots: list[Shot]
    analysis: audio.SongAnalysis
    song: Path
    clip: str


def dancer_dance(loaded, n_parts: int) -> tuple[list[Shot], audio.SongAnalysis]:
    """The real dancer's first ``n_parts`` library segments, each on its own clip times."""
    # one clip's segments in order (the dancer video is cut into a clip per stretch of dancing)
    by_clip: dict[int, list] = {}
    for s in sorted(loaded.library.segments, key=lambda s: (s.clip_id, s.start)):
        if s.clip_name.startswith("dancer"):
            by_clip.setdefault(s.clip_id, []).append(s)
    segs = max(by_clip.values(), key=len)[:n_parts]
    assert len(segs) >= min(n_parts, 3)
    parts = [audio.Segment(i, s.start, s.end, np.asarray(s.beats, float), np.zeros(len(s.beats), int))
             for i, s in enumerate(segs)]
    analysis = audio.SongAnalysis(segs[-1].end, audio.SAMPLE_RATE, float(np.median([s.tempo for s in segs])),
                                  np.concatenate([p.beats for p in parts]), parts)
    return [Shot.from_segments(ls, p) for ls, p in zip(segs, parts)], analysis


@pytest.fixture(scope="module")
def dance(loaded, tmp_path_factory) -> Dance:
    shots, analysis = dancer_dance(loaded, N_PARTS)
    song = tmp_path_factory.mktemp("practice") / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={TONE_HZ:g}:sample_rate=44100", "-t", f"{analysis.duration:.3f}",
           str(song))
    return Dance(shots, analysis, song, shots[0].video_path)


@pytest.fixture(scope="module")
def videos(dance, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("practice-videos")
    return {
        "half": render_practice(dance.shots, dance.analysis, dance.song, d / "half.mp4", speed=0.5),
        "full": render_practice(dance.shots, dance.analysis, dance.song, d / "full.mp4", speed=1.0),
        "loop": render_practice(dance.shots, dance.analysis, dance.song, d / "loop.mp4", speed=1.0, loop_part=1),
    }


def _dominant_hz(path: Path) -> float:
    y = audio.decode(path, max_seconds=None)
    y = y[len(y) // 10 : -len(y) // 10]  # away from the ends
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1.0 / audio.SAMPLE_RATE)[np.argmax(spectrum)])


def _frame(path: Path, t: float) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000.0)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def _picture_height(frame: np.ndarray) -> int:
    """Rows above the count band (the band is a flat dark strip across the whole width)."""
    dark = (frame.max(axis=2) < 60).mean(axis=1)
    rows = np.flatnonzero(dark > 0.6)
    return int(rows[0])


def test_half_speed_is_twice_as_long_with_the_pitch_kept(dance, videos):
    full = engine_ffmpeg.probe_duration(videos["full"])
    half = engine_ffmpeg.probe_duration(videos["half"])
    assert full == pytest.approx(dance.analysis.duration, abs=0.1)
    assert half == pytest.approx(2 * full, abs=0.15)
    assert _dominant_hz(videos["half"]) == pytest.approx(TONE_HZ, rel=0.02)  # stretched, not resampled
    assert _dominant_hz(videos["full"]) == pytest.approx(TONE_HZ, rel=0.02)
    for path in videos.values():
        assert path.stat().st_size < 50_000_000


def test_loop_repeats_one_part_four_times(dance, videos):
    part = dance.analysis.segments[1]
    assert engine_ffmpeg.probe_duration(videos["loop"]) == pytest.approx(4 * part.duration, abs=0.1)
    t = 0.4 * part.duration
    first, third = _frame(videos["loop"], t), _frame(videos["loop"], t + 2 * part.duration)
    other = _frame(videos["loop"], t + 0.45 * part.duration)
    h = _picture_height(first)
    same = np.abs(first[:h].astype(int) - third[:h]).mean()
    moved = np.abs(first[:h].astype(int) - other[:h]).mean()
    assert same < 0.5 * moved  # round 3 shows round 1's moves


def test_mirror_puts_the_dancers_right_hand_on_screen_right(dance, videos):
    """MediaPipe on the clip and on the practice picture: the hands trade places and labels."""
    estimator = pose.PoseEstimator(video=False)  # photo mode: the two pictures alternate
    cap = cv2.VideoCapture(dance.clip)
    checked = 0
    try:
        for song_t in np.linspace(0.5, dance.analysis.duration - 0.5, 12):
            cap.set(cv2.CAP_PROP_POS_MSEC, song_t * 1000.0)
            ok, src = cap.read()
            assert ok
            practice = _frame(videos["half"], song_t / 0.5)
            picture = practice[:_picture_height(practice)]
            a, b = estimator.estimate(src), estimator.estimate(picture)
            if a is None or b is None:
                continue
            lw, rw = a[pose.L_SHOULDER + 4], a[pose.R_SHOULDER + 4]  # wrists: 15, 16
            if lw[0] - rw[0] < 0.1:  # facing the camera with the hands apart: the sides are clear
                continue
            # the clip fills the picture (cropped by under 5 %): screen x maps to 1 - x
            assert b[16][0] == pytest.approx(1 - lw[0], abs=0.06)
            assert b[15][0] == pytest.approx(1 - rw[0], abs=0.06)
            # the dancer's right hand (MediaPipe reads the mirror image as a left hand) is on screen-right
            assert b[15][0] > b[16][0]
            checked += 1
    finally:
        cap.release()
        estimator.close()
    assert checked >= 3


def _highlight(band: np.ndarray, cycle: int = 8) -> tuple[int, str, float]:
    """(highlighted count 1-8, 'beat' or 'phrase', its share of the band) read from the pixels:
    the row of numbers spans the columns with any ink, split into ``cycle`` equal cells."""
    b, g, r = (band[..., i].astype(int) for i in range(3))
    yellow = (r > 200) & (g > 170) & (b < 130)
    orange = (r > 200) & (g > 80) & (g < 165) & (b < 150)
    lit = yellow | orange
    ink = np.flatnonzero((band.max(axis=2) > 110).any(axis=0))
    if not lit.any() or not len(ink):
        return 0, "", 0.0
    centre = np.flatnonzero(lit.any(axis=0)).mean()
    cell = (ink[-1] - ink[0] + 1) / cycle
    count = int(np.clip((centre - ink[0]) // cell, 0, cycle - 1)) + 1
    kind = "phrase" if orange.sum() > yellow.sum() else "beat"
    return count, kind, float(lit.sum()) / lit.size


def test_the_count_on_screen_follows_the_beats(dance, videos):
    seen = []
    for seg in dance.analysis.segments:
        for j, beat in enumerate(seg.beats):
            nxt = seg.beats[j + 1] if j + 1 < len(seg.beats) else seg.end
            song_t = beat + 0.4 * (nxt - beat)
            frame = _frame(videos["half"], song_t / 0.5)
            h = _picture_height(frame)
            band = frame[h + int(0.32 * (frame.shape[0] - h)) :]  # the counts' row under the info line
            count, kind, area = _highlight(band)
            seen.append((seg.index, j % 8 + 1, count, kind, area))  # a part of whole bars may run past 8
    assert [s[2] for s in seen] == [s[1] for s in seen]  # each beat shows its count, 1 on each part's first beat
    # the first part starts a phrase (four 8-counts): its 1 is orange and bigger than a plain 1
    first_one = next(s for s in seen if s[0] == 0 and s[1] == 1)
    plain_one = next(s for s in seen if s[0] == 1 and s[1] == 1)
    assert first_one[3] == "phrase" and plain_one[3] == "beat"
    assert first_one[4] > 1.3 * plain_one[4]
