"""``choreo bench ingest``: how fast real dance videos become library clips, and how much is kept.

Runs :func:`choreo_engine.dance.ingest.ingest_dancing` (people found, lead followed, poses,
stretches of dancing, segments, normalised copies) on the real dancer video and reports frames
of source video per second, seconds per minute of video, and the share kept as dancing; the
people search alone is timed too (it runs again inside the ingest).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..dance import ingest, tracking
from ..settings import shared_data_dir
from .common import peak_rss_mb, summarize


def bench_ingest(runs: int = 1, video: Path | None = None) -> dict:
    video = video or shared_data_dir() / "dance" / "video_mgt" / "dancer.avi"
    seconds, lead_seconds, cpu_seconds = [], [], []
    result = None
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="choreo-bench-ingest-") as tmp:
            t0 = time.perf_counter()
            tracking.find_lead(video)
            lead_seconds.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.process_time()
            result = ingest.ingest_dancing(video, Path(tmp))
            seconds.append(time.perf_counter() - t0)
            cpu_seconds.append(time.process_time() - c0)  # this process's threads (ffmpeg runs apart)
    minutes = result.duration / 60.0
    return {
        "benchmark": "ingest",
        "video": video.name,
        "video_seconds": round(result.duration, 2),
        "frames": result.frames,
        "runs": runs,
        "seconds": summarize(seconds),
        "frames_per_second": round(result.frames / min(seconds), 1),
        "seconds_per_minute_of_video": round(min(seconds) / minutes, 1),
        "cpu_seconds": summarize(cpu_seconds),
        "lead_dancer_seconds": summarize(lead_seconds),
        "load_average": round(os.getloadavg()[0], 1),  # others' work on the machine slows the wall clock
        "people": result.people,
        "clips": len(result.clips),
        "segments": sum(len(c.segments) for c in result.clips),
        "stretches": [[round(c.origin_start or 0.0, 2), round(c.origin_end or result.duration, 2)] for c in result.clips],
        "kept_share": round(result.kept_share, 3),
        "peak_rss_mb": peak_rss_mb(),
    }
