"""``choreo bench analyze``: seconds per minute of audio for decoding, beats and features."""

from __future__ import annotations

import time
from pathlib import Path

from ..music import audio, features
from .common import peak_rss_mb, shared_tracks, summarize


def bench_analyze(runs: int = 3, tracks: list[Path] | None = None) -> dict:
    """Seconds per minute of audio for decode, beats (with segments and loudness) and features."""
    tracks = tracks or shared_tracks()
    # Warm up numba and the decoders so the first track does not carry the compile time.
    y = audio.decode(tracks[0])
    features.describe_segments(y, audio.analyze(y).segments)
    stages: dict[str, list[float]] = {"decode": [], "beats": [], "features": []}
    total_minutes = 0.0
    for run in range(runs):
        spent = {k: 0.0 for k in stages}
        minutes = 0.0
        for path in tracks:
            t0 = time.perf_counter()
            y = audio.decode(path)
            t1 = time.perf_counter()
            analysis = audio.analyze(y)
            t2 = time.perf_counter()
            features.describe_segments(y, analysis.segments)
            t3 = time.perf_counter()
            spent["decode"] += t1 - t0
            spent["beats"] += t2 - t1
            spent["features"] += t3 - t2
            minutes += len(y) / audio.SAMPLE_RATE / 60.0
        total_minutes = minutes
        for k in stages:
            stages[k].append(spent[k] / minutes)
    return {
        "benchmark": "analyze",
        "tracks": len(tracks),
        "audio_minutes": round(total_minutes, 2),
        "seconds_per_audio_minute": {k: summarize(v) for k, v in stages.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
