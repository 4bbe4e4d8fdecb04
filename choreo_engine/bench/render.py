"""Benchmark of rendering (`choreo bench render`): a JSON-ready dict.

Inputs are built from shared data: the dancer video (``dance/video_mgt/dancer.avi``) becomes a
library clip (H.264 copy at library size, MediaPipe poses every 2nd frame, its own beats and
8-beat segments), cached under ``$TMPDIR/choreo-render-bench``; the song is Kevin MacLeod's
"Vibe Ace" (61.5 s). Each song segment gets a dancer segment in a shuffled order (seed 0), so
every cut is a real jump.

Measured: seconds per 6-tile preview; the final video's speed (song seconds per wall second,
"x real time") at 720p in both modes, in the sources' own frame (720x720 for this clip) and in
16:9 (1280x720); and two references made by ffmpeg alone from the same pieces of the clip,
without retiming: a stream-copy concat (``-c copy``, the cost of cutting alone) and the same
concat re-encoded at 1280x720 with the same x264 settings and AAC (the cost of a plain cut
edit). Figures are medians of ``runs`` runs with their spread (see ``bench.summarize``).

Measured on this 2-core machine with nothing else running (``choreo bench render --runs 2``,
medians), x real time unless noted::

    preview (6 tiles, 3.7 s at 20 fps, 722x480)          1.05 s per preview
    clips   720x720  9.2x    1280x720 (blurred sides)  6.6x
    avatar  720x720  9.7x    1280x720                  7.6x
    ffmpeg concat -c copy                              60.0x  (no decoding, keyframe cuts)
    ffmpeg concat re-encoded 1280x720 (black pad)       7.9x

so the final video costs about what a plain ffmpeg cut-and-encode of the same pieces costs
(0.84x of it at 1280x720 with blurred sides, 1.17x-1.23x in the clip's own square frame).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import ffmpeg
from ..music import audio
from ..dance import library, pose
from .common import DANCER, VIBE_ACE, peak_rss_mb, summarize
from ..video import Shot, frame_size, render_final, render_preview, video_info
from ..settings import shared_data_dir


def _work_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "choreo-render-bench"
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_inputs(work_dir: Path | None = None, song: Path | None = None) -> tuple[audio.SongAnalysis, list[Shot], Path]:
    """(song analysis, one shot per song segment, song path) from the shared dancer video."""
    work = work_dir or _work_dir()
    dancer = shared_data_dir().joinpath(*DANCER)
    song = song or shared_data_dir().joinpath(*VIBE_ACE)
    sha = library.file_sha256(dancer)[:16]
    video = work / f"dancer-{sha}.mp4"
    if not video.exists():
        library.normalise_video(dancer, video)
    poses_path = work / f"dancer-{sha}.npz"
    if not poses_path.exists():
        track = pose.estimate_video(video, stride=2)
        poses = pose.interpolate_gaps(track.poses, track.fps, 1.0)
        tmp = poses_path.with_suffix(".part.npz")  # written whole or not at all: its existence is the cache
        np.savez_compressed(tmp, poses=poses.astype(np.float32), fps=np.float32(track.fps))
        os.replace(tmp, poses_path)
    clip = audio.analyze(audio.decode(dancer, max_seconds=None))
    lib_segs = clip.segments
    analysis = audio.analyze(audio.decode(song))
    order = np.random.default_rng(0).permutation(len(lib_segs))
    fps = video_info(video).fps
    shots = []
    for i, seg in enumerate(analysis.segments):
        ls = lib_segs[order[i % len(order)]]
        shots.append(Shot(str(video), str(poses_path), round(fps), ls.beats, ls.end, seg.beats, seg.start, seg.end,
                          label="dancer"))
    return analysis, shots, song


def _concat_list(shots: list[Shot], path: Path) -> Path:
    """An ffmpeg concat-demuxer list: each shot's clip from its first beat, for its song segment's length."""
    lines = []
    for s in shots:
        dur = video_info(s.video_path).duration
        inpoint = float(min(s.src_beats[0], max(0.0, dur - s.duration - 0.05)))
        lines += [f"file '{s.video_path}'", f"inpoint {inpoint:.3f}", f"outpoint {inpoint + s.duration:.3f}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def reference_concat(shots: list[Shot], song: Path, out: Path, encode: bool, height: int = 720) -> None:
    """The plain ffmpeg edit of the same pieces (no retime): stream copy, or re-encoded at 16:9."""
    lst = _concat_list(shots, out.with_suffix(".txt"))
    cmd = ["-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
           "-i", str(lst), "-i", str(song), "-map", "0:v:0", "-map", "1:a:0"]
    if encode:
        W, H = frame_size(height, 16 / 9)
        cmd += ["-vf", f"scale={W}:{H}:force_original_aspect_ratio=decrease,pad={W}:{H}:(ow-iw)/2:(oh-ih)/2,"
                       "setsar=1,fps=25",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-b:a", "128k"]
    else:
        cmd += ["-c:v", "copy", "-c:a", "aac", "-b:a", "128k"]
    cmd += ["-shortest", "-movflags", "+faststart", str(out)]
    # the work grows with the song's length (decoding and, with ``encode``, encoding all of it)
    ffmpeg.run(cmd, timeout=ffmpeg.timeout_for(shots[-1].dst_end), check=True)


def bench_render(runs: int = 3, work_dir: Path | None = None) -> dict:
    """Seconds per preview and the final video's speed (x real time) at 720p, both modes, vs ffmpeg concat."""
    work = work_dir or _work_dir()
    analysis, shots, song = build_inputs(work)
    duration = analysis.duration
    seg = analysis.segments[min(3, len(analysis.segments) - 1)]
    candidates = [Shot(s.video_path, s.poses_path, s.fps, s.src_beats, s.src_end, seg.beats, seg.start, seg.end)
                  for s in shots[:6]]
    out = work / "out"
    out.mkdir(exist_ok=True)

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    preview = [timed(lambda: render_preview(candidates, song, out / "preview.mp4", start=seg.start, end=seg.end))
               for _ in range(runs)]
    variants = {
        "clips_auto": dict(mode="clips"),
        "clips_16x9": dict(mode="clips", aspect=16 / 9),
        "avatar_auto": dict(mode="avatar"),
        "avatar_16x9": dict(mode="avatar", aspect=16 / 9),
    }
    final: dict[str, dict] = {}
    for name, kw in variants.items():
        path = out / f"final_{name}.mp4"
        speeds = [duration / timed(lambda: render_final(shots, song, path, height=720, **kw)) for _ in range(runs)]
        info = video_info(path)
        final[name] = {"x_real_time": summarize(speeds), "size": f"{info.width}x{info.height}",
                       "bytes": path.stat().st_size}
    reference = {}
    for name, encode in (("concat_copy", False), ("concat_encode_16x9", True)):
        path = out / f"{name}.mp4"
        speeds = [duration / timed(lambda: reference_concat(shots, song, path, encode)) for _ in range(runs)]
        reference[name] = {"x_real_time": summarize(speeds), "bytes": path.stat().st_size}
    base = reference["concat_encode_16x9"]["x_real_time"]["median"]
    return {
        "benchmark": "render",
        "song": song.name,
        "song_seconds": round(duration, 2),
        "shots": len(shots),
        "cpus": os.cpu_count(),
        "preview_seconds": summarize(preview),
        "final": final,
        "reference": reference,
        "final_vs_concat_encode": {k: round(v["x_real_time"]["median"] / base, 3) for k, v in final.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(bench_render(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
