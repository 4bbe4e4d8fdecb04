"""Benchmarks of the engine (`choreo bench ...`): each returns a JSON-ready dict.

Speed is measured here, never asserted in tests. Figures are medians over several runs, with
the spread (max - min) / median as a reading of the machine's noise.
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

import numpy as np

from . import audio, features
from .settings import shared_data_dir


def summarize(values: list[float]) -> dict:
    med = statistics.median(values)
    return {
        "median": round(med, 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "noise": round((max(values) - min(values)) / med, 3) if med else 0.0,
        "runs": len(values),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# The shared material the benchmarks use beside the music tracks (paths under shared_data_dir()).
DANCER = ("dance", "video_mgt", "dancer.avi")
VIBE_ACE = ("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


def shared_tracks() -> list[Path]:
    return sorted((shared_data_dir() / "music").glob("*/*.ogg"))


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
