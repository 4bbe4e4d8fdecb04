"""What every benchmark shares: the summary of repeated runs, peak memory, the shared material."""

from __future__ import annotations

import resource
import statistics
from pathlib import Path

from ..settings import shared_data_dir


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
