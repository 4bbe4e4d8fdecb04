"""Downbeat accuracy and speed (``choreo bench downbeats``): the librosa-based bar estimate of
:mod:`choreo_engine.music.bars` on synthesized songs with known bars, and madmom's RNN downbeat
tracker beside it when ``madmom`` is importable (it is not a dependency: it is measured here
because it was the checked alternative).

Each synthesized song is cut to start ``pickup`` beats into a bar (0-3), so "the first beat is
the 1" does not pass. Scores: the share of true downbeats with an estimated one within 70 ms
(recall), the share of estimated downbeats within 70 ms of a true one (precision), the share
of the song's part starts (after the first, which holds the lead-in) on a true downbeat, and
the meter found.
"""

from __future__ import annotations

import time

import numpy as np

from ..music import audio
from ..starter.music_styles import STYLES
from ..starter.synth import synthesize_song
from .common import summarize

TOLERANCE = 0.07


def known_bar_song(style: str, take: int, n_beats: int = 96) -> dict:
    """One synthesized song of ``style`` (seed ``100 + take``) cut to start mid-bar: audio, true
    beat and downbeat times, meter, pickup (the styles in sorted order cycle the pickups)."""
    song = synthesize_song(style, n_beats=n_beats, seed=100 + take)
    bpb = song.beats_per_bar
    pickup = (sorted(STYLES).index(style) + take) % bpb  # beats before the first "1" after the cut
    first = bpb - pickup if pickup else 0  # the cut lands on this beat
    cut = max(0.0, song.beat_times[first] - 0.08)
    y = song.y[int(cut * song.sr):]
    beats = song.beat_times[first:] - cut
    downbeats = song.beat_times[np.arange(len(song.beat_times)) % bpb == 0]
    downbeats = downbeats[downbeats >= song.beat_times[first]] - cut
    return {"name": f"{style}-{take}", "y": y, "beats": beats, "downbeats": downbeats, "meter": bpb,
            "pickup": pickup}


def known_bar_songs(n_per_style: int = 2, n_beats: int = 96) -> list[dict]:
    """Every style's songs cut to start mid-bar (:func:`known_bar_song`)."""
    return [known_bar_song(style, j, n_beats) for style in sorted(STYLES) for j in range(n_per_style)]


def _matched(reference: np.ndarray, estimated: np.ndarray) -> float:
    if len(reference) == 0:
        return 0.0
    if len(estimated) == 0:
        return 0.0
    d = np.abs(reference[:, None] - estimated[None, :]).min(axis=1)
    return float(np.mean(d <= TOLERANCE))


def score(song: dict, downbeats: np.ndarray, part_starts: np.ndarray, meter: int) -> dict:
    return {
        "recall": _matched(song["downbeats"], downbeats),
        "precision": _matched(downbeats, song["downbeats"]),
        "part_starts_on_downbeat": _matched(part_starts, song["downbeats"]),
        "meter_right": float(meter == song["meter"]),
    }


def _ours(song: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    analysis = audio.analyze(song["y"])
    seconds = time.perf_counter() - t0
    starts = np.array([s.start for s in analysis.segments[1:]])
    return score(song, analysis.beats[analysis.downbeats], starts, analysis.meter), seconds


def _old_segmentation(song: dict) -> float:
    """Part starts on a downbeat when parts are 8 beats from the first beat (before bars)."""
    _, beats = audio.beat_track(song["y"])
    starts = beats[8::8]
    return _matched(starts, song["downbeats"])


def _madmom(song: dict):
    try:
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor
    except Exception:  # not installed: not measured
        return None
    import tempfile

    import soundfile as sf
    import soxr

    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:  # madmom reads 16-bit wav at 44.1 kHz
        sf.write(tmp.name, soxr.resample(song["y"], audio.SAMPLE_RATE, 44_100), 44_100, subtype="PCM_16")
        t0 = time.perf_counter()
        act = RNNDownBeatProcessor()(tmp.name)
        found = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(act)
        seconds = time.perf_counter() - t0
    downbeats = found[found[:, 1] == 1, 0]
    meter = int(found[:, 1].max()) if len(found) else 4
    starts = downbeats[2::2]  # two bars to a part from the first downbeat, the lead-in joining the first
    return score(song, downbeats, starts, meter), seconds


def bench_downbeats(n_per_style: int = 2) -> dict:
    songs = known_bar_songs(n_per_style)
    rows: dict[str, list] = {"ours": [], "madmom": [], "old": []}
    times: dict[str, list] = {"ours": [], "madmom": []}
    minutes = []
    per_song = []
    for song in songs:
        minutes.append(len(song["y"]) / audio.SAMPLE_RATE / 60)
        ours, sec = _ours(song)
        rows["ours"].append(ours)
        times["ours"].append(sec)
        rows["old"].append(_old_segmentation(song))
        entry = {"song": song["name"], "meter": song["meter"], "pickup": song["pickup"],
                 "ours": {k: round(v, 3) for k, v in ours.items()}}
        found = _madmom(song)
        if found is not None:
            rows["madmom"].append(found[0])
            times["madmom"].append(found[1])
            entry["madmom"] = {k: round(v, 3) for k, v in found[0].items()}
        per_song.append(entry)

    def mean(results: list[dict]) -> dict:
        return {k: round(float(np.mean([r[k] for r in results])), 3) for k in results[0]} if results else {}

    total_minutes = float(np.sum(minutes))
    result = {
        "benchmark": "downbeats",
        "songs": len(songs),
        "audio_minutes": round(total_minutes, 2),
        "tolerance_seconds": TOLERANCE,
        "ours": mean(rows["ours"]) | {"seconds_per_audio_minute_whole_analysis": round(sum(times["ours"]) / total_minutes, 3)},
        "old_segmentation_part_starts_on_downbeat": round(float(np.mean(rows["old"])), 3),
        "madmom": (mean(rows["madmom"]) | {"seconds_per_audio_minute": round(sum(times["madmom"]) / total_minutes, 3)})
        if rows["madmom"] else "not installed",
        "per_song": per_song,
    }
    result["ours"]["timing"] = summarize(times["ours"])
    return result
