"""Benchmark of the practice video and the pose export (`choreo bench practice [--song S]`): a JSON-ready dict.

Inputs as in :mod:`.render` (the shared dancer video as a library clip, its segments in a
shuffled order on the song's parts; Vibe Ace, 61.5 s, unless ``song`` is given). Measured:
the practice video at 0.5x, 0.75x and 1x (the whole dance) and one part looped, as wall
seconds, song seconds per wall second and video seconds per wall second; the final video of
the same shots for comparison; and the export (keypoints, BVH, JSON, CSV) in seconds.

Measured on this 2-core machine shared with other sessions (load average 10-16, so slower than
an idle machine), one run each, War of Freedom (174.9 s, 48 parts, the dancer clip, 540x648 with
the count band), ``choreo bench practice --runs 1 --song .../War_of_freedom/song.ogg``::

    practice 0.5x   40.1 s for 349.7 s of video (8.7x real time)   13.8 MB
    practice 0.75x  36.5 s for 233.2 s                               10.2 MB
    practice 1x     22.4 s for 174.9 s (7.8x)                          8.2 MB
    loop part 2 1x   1.6 s for  13.7 s                                 0.7 MB
    final 720x720   26.7 s for 174.9 s (6.5x), for comparison         10.9 MB
    export          keypoints 0.09 s, BVH 0.21 s (2.7 MB), JSON 0.64 s (4.6 MB), CSV 0.36 s (4.0 MB)

and ``choreo render SONG --practice --speed 0.5`` on the same song with the test library's
starter clips (960x648): 63.6 s after planning (load 11-14).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from ..dance import export
from ..ffmpeg import probe_duration
from ..video import render_final, video_info
from ..video.practice import SPEEDS, render_practice
from .common import peak_rss_mb, summarize
from .render import build_inputs


def bench_practice(runs: int = 1, song: Path | None = None, work_dir: Path | None = None) -> dict:
    work = work_dir or Path(tempfile.gettempdir()) / "choreo-render-bench"
    work.mkdir(parents=True, exist_ok=True)
    analysis, shots, song_path = build_inputs(work, song)
    out = work / "practice"
    out.mkdir(exist_ok=True)

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def measure(path: Path, make) -> dict:
        seconds = [timed(make) for _ in range(runs)]
        length = probe_duration(path) or 0.0
        info = video_info(path)
        med = summarize(seconds)["median"]
        return {"seconds": summarize(seconds), "video_seconds": round(length, 2),
                "video_x_real_time": round(length / med, 2), "size": f"{info.width}x{info.height}",
                "bytes": path.stat().st_size}

    practice = {}
    for speed in SPEEDS:
        path = out / f"practice-{speed:g}.mp4"
        row = practice[f"{speed:g}x"] = measure(path, lambda: render_practice(shots, analysis, song_path, path,
                                                                             speed=speed))
        row["song_x_real_time"] = round(analysis.duration / row["seconds"]["median"], 2)
    loop = out / "practice-loop.mp4"
    practice["loop_part_2_1x"] = measure(loop, lambda: render_practice(shots, analysis, song_path, loop, speed=1.0,
                                                                      loop_part=1))
    final_path = out / "final-720.mp4"
    final = measure(final_path, lambda: render_final(shots, song_path, final_path, height=720))
    exports = {}
    keypoints = None

    def make_keypoints() -> None:
        nonlocal keypoints
        keypoints = export.choreography_keypoints(shots, analysis)

    exports["keypoints"] = summarize([timed(make_keypoints) for _ in range(runs)])
    for fmt, writer in (("bvh", export.write_bvh), ("json", export.write_json), ("csv", export.write_csv)):
        exports[fmt] = summarize([timed(lambda: writer(keypoints, out / f"dance.{fmt}")) for _ in range(runs)])
        exports[f"{fmt}_bytes"] = (out / f"dance.{fmt}").stat().st_size
    return {
        "benchmark": "practice",
        "song": Path(song_path).name,
        "song_seconds": round(analysis.duration, 2),
        "parts": len(analysis.segments),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "practice": practice,
        "final_720": final,
        "export_seconds": exports,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(bench_practice(), indent=2))
