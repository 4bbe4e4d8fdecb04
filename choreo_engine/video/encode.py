"""Encoding a render: the bitrate budget and the frame pipe into x264 with the song as AAC.

Frames are converted to I420 with ``cv2.cvtColor`` and piped raw into one ffmpeg process
(:func:`choreo_engine.ffmpeg.pipe_frames`) that encodes H.264 (CRF under a VBV cap from the size
budget) and muxes the song as AAC. Piping I420 instead of bgr24 halves the bytes and skips
ffmpeg's swscale: encoding went from 7.2x to 9.0x real time on the same 500 frames (and the
colours round-trip closer: mean error 1.0 vs 2.0).

The video's bitrate is capped by a VBV budget computed from the duration and ``max_bytes``
(:func:`video_bitrate_budget`); below ``MIN_BITS_PER_PIXEL`` the callers make the frame
smaller, and they check the file size after encoding. The sound is AAC at 128 kbit/s, less
(down to 48) when it alone would take over 35 % of the budget (:func:`audio_bitrate`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from ..errors import EncodeError, RenderError
from ..ffmpeg import media_input, pipe_frames, sniff_demuxer, timeout_for

__all__ = ["AUDIO_KBPS", "EncodeError", "MIN_BITS_PER_PIXEL", "X264_PARAMS", "aac_args", "audio_bitrate",
           "encode_pieces", "encode_video", "encode_within", "forward_only", "frame_height_for", "video_bitrate_budget"]

AUDIO_KBPS = 128
# Below this many bits per pixel per frame the final video is rendered smaller.
MIN_BITS_PER_PIXEL = 0.035
# Share of ``max_bytes`` the encoder aims at (the rest is headroom for the container).
SIZE_MARGIN = 0.93
# x264 options over its preset (veryfast): no B-frames, no sub-partitions, whole-pixel diamond
# motion search. x264 is two thirds of a final video's CPU. Measured with one thread (as the
# pieces' shares run), CRF 23, 720p: on 1000 frames of a starter-library final x264 took 2.0 s
# instead of 4.1 s, for 39 % more bytes (the whole 3-minute video with its sound: 12.0 MB
# instead of 9.8; the size cap is 50 MB) at an SSIM of 0.9971 against 0.9977; on 500 frames of
# the real dancer video 1.2 s instead of 2.9 s, 9 % more bytes, SSIM 0.9967 against 0.9971.
# Side by side, frames look the same. The presets past veryfast also drop macroblock-tree rate
# control, which costs far more bytes for the time saved (ultrafast: 1.3 s, 4.3 times the bytes).
X264_PARAMS = "bframes=0:partitions=none:subme=0:me=dia"


def audio_bitrate(duration: float, max_bytes: int, share: float = 0.35) -> int:
    """AAC kbit/s: 128, or less when the sound alone would take more than ``share`` of the file."""
    for kbps in (AUDIO_KBPS, 96, 64, 48):
        if kbps * 1.05 * duration * 1000 / 8 <= share * max_bytes:
            return kbps
    return 48


def video_bitrate_budget(duration: float, max_bytes: int, audio_kbps: float = AUDIO_KBPS,
                         buffer_seconds: float = 1.0, margin: float = SIZE_MARGIN) -> float:
    """Video kbit/s that keeps a ``duration`` s file with its audio under ``max_bytes``.

    The VBV lets the encoder run over its average by up to one buffer, so the budget is spread
    over ``duration + buffer_seconds``.
    """
    total_kbit = max_bytes * 8.0 * margin / 1000.0
    # AAC runs a few per cent over its nominal bitrate
    return max(0.0, (total_kbit - 1.05 * audio_kbps * duration) / (duration + buffer_seconds))


def aac_args(audio_kbps: int) -> list[str]:
    """ffmpeg's output arguments for the sound of every video: stereo AAC at 44.1 kHz."""
    return ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2", "-ar", "44100"]


def forward_only(progress: Callable[[float], None] | None) -> Callable[[float], None]:
    """``progress`` called only with fractions above the last one (a retry starts its frames over)."""
    reported = [0.0]

    def report(fraction: float) -> None:
        if progress is not None and fraction > reported[0]:
            reported[0] = fraction
            progress(fraction)

    return report


def frame_height_for(video_kbps: float, short: int, smaller: list[int], pixels: Callable[[int], float],
                     fps: float) -> int:
    """The frame's shorter side: ``short``, or the first of ``smaller`` (descending, consumed as
    they are passed) whose frame of ``pixels(side)`` pixels gets MIN_BITS_PER_PIXEL at ``video_kbps``."""
    while smaller and video_kbps * 1000.0 / (pixels(short) * fps) < MIN_BITS_PER_PIXEL:
        short = smaller.pop(0)
    return short


def encode_within(out_path: Path, frames_at: Callable[[int], tuple[Iterable[np.ndarray], int, int]], n_frames: int,
                  fps: float, *, short: int, smaller: list[int], pixels: Callable[[int], float], video_kbps: float,
                  max_bytes: int, attempts: int = 4, **encode) -> Path:
    """Encode what ``frames_at(short_side)`` gives (frames, width, height) with :func:`encode_video`
    (``encode``: its other arguments) into a file under ``max_bytes``.

    The frame starts at the largest of ``short`` and ``smaller`` that the bitrate can feed; a file
    over ``max_bytes`` is made again with less bitrate, and a smaller frame when that is too few
    bits per pixel, up to ``attempts`` times (then RenderError).
    """
    short = frame_height_for(video_kbps, short, smaller, pixels, fps)
    for _ in range(attempts):
        frames, W, H = frames_at(short)
        encode_video(out_path, frames, n_frames, W, H, fps, video_kbps=video_kbps, **encode)
        size = out_path.stat().st_size
        if size <= max_bytes:
            return out_path
        # over (x264 has a floor per frame): less bitrate, and a smaller frame when that is too few bits
        video_kbps *= 0.85 * max_bytes / size
        short = frame_height_for(video_kbps, short, smaller, pixels, fps)
    out_path.unlink(missing_ok=True)
    raise RenderError("The video came out too large to send.")


def encode_video(out_path: Path, frames: Iterable[np.ndarray], n_frames: int, W: int, H: int, fps: float, *,
            song_path: str | os.PathLike | None, audio_start: float, audio_duration: float, video_kbps: float,
            crf: int, preset: str = "veryfast", audio_kbps: int = AUDIO_KBPS, fade: bool = False,
            progress: Callable[[float], None] | None = None) -> None:
    """Pipe ``n_frames`` BGR frames (as I420) into x264 and mux ``song_path[audio_start : +audio_duration]`` as AAC
    (no sound when ``song_path`` is None: a piece of the final video, see :mod:`.pieces`)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: the same video may be made twice at once (a task handed to a second worker)
    tmp = out_path.with_name(f"{out_path.stem}.part-{uuid.uuid4().hex[:12]}.mp4")
    kbps = max(50, int(video_kbps))
    afilter = []
    if fade and audio_duration > 0.2:
        afilter = ["-af", f"afade=t=in:d=0.02,afade=t=out:st={audio_duration - 0.05:.3f}:d=0.05"]
    sound_input: list[str] = []
    sound_codec: list[str] = []
    if song_path is not None:
        # the song came from outside: read as local files and accepted containers only
        sound_input = ["-ss", f"{audio_start:.4f}", "-t", f"{audio_duration:.4f}",
                       *media_input(song_path, sniff_demuxer(song_path))]
        sound_codec = [*afilter, *aac_args(audio_kbps)]
    args = [
        *_frames_input(W, H, fps), *sound_input,
        "-map", "0:v:0", *(["-map", "1:a:0"] if song_path is not None else []),
        *_x264(fps, kbps, crf, preset), *sound_codec, "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]
    try:
        _pipe_i420(args, frames, n_frames, fps, progress)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out_path)


def _frames_input(W: int, H: int, fps: float) -> list[str]:
    return ["-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-framerate", f"{fps:.6g}", "-i", "pipe:0"]


def _x264(fps: float, kbps: int, crf: int, preset: str, threads: int | None = None) -> list[str]:
    return ["-c:v", "libx264", "-preset", preset, "-x264-params", X264_PARAMS, "-crf", str(crf),
            "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k", "-pix_fmt", "yuv420p", "-profile:v", "high",
            "-g", str(int(round(2 * fps))), *(["-threads", str(threads)] if threads else [])]


def _pipe_i420(args: list[str], frames: Iterable[np.ndarray], n_frames: int, fps: float,
               progress: Callable[[float], None] | None) -> None:
    # converted here (SIMD, BT.601 limited range like ffmpeg's default, and closer to the source):
    # half the bytes through the pipe and no swscale in ffmpeg, ~25 % faster
    try:
        # making and encoding the frames takes time in proportion to the video's length
        pipe_frames(args, frames, lambda frame: cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).data, n_frames, progress,
                    timeout=timeout_for(n_frames / fps))
    except EncodeError as exc:
        raise RenderError(str(exc)) from None


def encode_pieces(out_paths: list[Path], counts: list[int], frames: Iterable[np.ndarray], W: int, H: int, fps: float,
                  *, video_kbps: float, crf: int, preset: str = "veryfast", threads: int | None = None,
                  progress: Callable[[float], None] | None = None) -> None:
    """Consecutive pieces of one video (``counts[i]`` frames into ``out_paths[i]``, no sound) in
    one x264 run: an IDR frame forced where each piece starts and the stream split there by the
    segment muxer, so each file plays on its own and they join by a stream copy. One run
    instead of one per piece: starting x264 and the clip readers again cost ~0.3 s a piece.
    ``threads``: x264's (default: as many as it likes; 1 where one process per core shares a video)."""
    starts = np.cumsum([0, *counts[:-1]])
    n_frames = int(sum(counts))
    kbps = max(50, int(video_kbps))
    work = Path(out_paths[0]).parent / f"pieces.{uuid.uuid4().hex[:12]}.part"
    work.mkdir(parents=True, exist_ok=True)
    # each piece's first frame, a half frame early so rounding never moves it to the next one
    key_times = ",".join(f"{(k - 0.5) / fps:.6f}" for k in starts[1:])
    if len(out_paths) == 1:
        split = ["-movflags", "+faststart", "-f", "mp4", str(work / "piece-00000.mp4")]
    else:
        split = ["-force_key_frames", key_times, "-forced-idr", "1",
                 "-f", "segment", "-segment_frames", ",".join(str(int(k)) for k in starts[1:]),
                 "-reset_timestamps", "1", "-segment_format", "mp4", "-segment_format_options", "movflags=+faststart",
                 str(work / "piece-%05d.mp4")]
    args = [*_frames_input(W, H, fps), "-map", "0:v:0", *_x264(fps, kbps, crf, preset, threads), *split]
    try:
        _pipe_i420(args, frames, n_frames, fps, progress)
        made = sorted(work.glob("piece-*.mp4"))
        if len(made) != len(out_paths):
            raise RenderError(f"expected {len(out_paths)} pieces, the encoder split {len(made)}")
        for src, dst in zip(made, out_paths):
            os.replace(src, dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)
