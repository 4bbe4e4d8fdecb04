"""The final video: the whole song danced, as the cross-edit of the clips or as the avatar.

Route chosen for speed (measured on this 2-core machine, shared with other work: load 2-5)
-----------------------------------------------------------------------------------------
Frames are produced in Python with OpenCV (decode by timestamp, ``cv2.resize`` into the
frame, ``cv2.addWeighted`` for the dissolves, :func:`mannequin.draw_mannequin` for the avatar),
converted to I420 with ``cv2.cvtColor`` and piped raw into one ffmpeg process that encodes
H.264 (veryfast, CRF 23 under a VBV cap from the size budget) and muxes the song as AAC.

Primitive costs at 720p: decoding the 480p library H.264 ~980 frames/s, resize + pad ~800/s,
a dissolve ~860/s, the mannequin ~225/s (4.4 ms); frame generation alone runs at ~25x real
time (clips) and ~17x (avatar) at 1280x720, so x264 is the bottleneck (:mod:`.encode` says
why the frames go through the pipe as I420).

Whole renders of Vibe Ace (61.5 s, 16 shots of the dancer video), x real time (the first
three rows: ``choreo bench render``; the rest: experiments while choosing the route)::

    this route, clips 720x720 (the clip's own frame)       9.2x
    this route, clips 1280x720, blurred side fill          6.6x   (black fill 7.1-7.7x)
    this route, avatar 720x720 / 1280x720                  9.7x / 7.6x
    ffmpeg filtergraph, clips 1280x720: 135 per-beat trim+setpts, concat, scale/pad, no
      dissolves (experiment, same load as the 7.1x above)  8.4x
    moviepy 2.2.1 per-frame path (DESIGN.md)               0.6-0.9x

The filtergraph is only ~15 % faster and has no dissolves (xfade brings it to ~3.3x per
DESIGN.md) and no avatar, so one Python route serves both modes; moviepy was not used.
``choreo bench render`` measures previews and both modes against a plain
ffmpeg concat of the same pieces (medians of 3 runs, in that module's docstring).
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..ffmpeg import probe_duration, run
from .encode import audio_bitrate, encode_within, forward_only, frame_height_for, video_bitrate_budget
from .pieces import FinalLook, join_pieces, render_pieces, song_sound
from .shots import Shot, check_order
from .sources import BLEND_FRAMES, auto_aspect, clip_frames, frame_size
from .stage import avatar_frames

__all__ = ["FINAL_HEIGHTS", "final_look", "final_sound", "poster_frame", "render_final", "render_final_in_pieces"]

# The frame's shorter side steps down through these when the size budget gives too few bits per pixel.
FINAL_HEIGHTS = (1080, 720, 540, 480, 360, 270, 240)


def _song_duration(song_path: str | os.PathLike, decoded: float) -> float:
    """The song's length from its header, unless the header lies about it (an upload's may):
    then the length decoded, which the segments end at."""
    d = probe_duration(song_path)
    return float(d) if d and abs(d - decoded) < 1.0 else float(decoded)


def final_look(shots: Sequence[Shot], song_path: str | os.PathLike, *, song_end: float | None = None,
               height: int = 720, fps: float = 25, max_bytes: int = 50_000_000, aspect: float | None = None,
               blend_frames: int = BLEND_FRAMES, fill: str = "blur", crf: int = 23,
               preset: str = "veryfast") -> FinalLook:
    """The frame, rate and encoder settings of the final video of ``shots`` (for pieces made
    before every part is picked: the shots known so far, and ``song_end``, the last segment's end)."""
    duration = _song_duration(song_path, shots[-1].dst_end if song_end is None else song_end)
    aspect = aspect or auto_aspect(shots)
    audio_kbps = audio_bitrate(duration, max_bytes)
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps)
    short = frame_height_for(budget, height, [h for h in FINAL_HEIGHTS if h < height],
                             lambda side: float(np.prod(frame_size(side, aspect))), fps)
    W, H = frame_size(short, aspect)
    return FinalLook(W, H, fps, fill, blend_frames, crf, preset, budget, audio_kbps, duration)


def final_sound(song_path: str | os.PathLike, song_end: float, pieces_dir: str | os.PathLike, *,
                max_bytes: int = 50_000_000) -> Path:
    """The sound of the song's final video made of pieces (AAC, ~1.7 s for a 3-minute song),
    stored with its pieces in ``pieces_dir``: it depends only on the song (``song_end``: its last
    segment's end) and the size budget, so it can be made before anything is picked."""
    duration = _song_duration(song_path, song_end)
    return song_sound(Path(pieces_dir), song_path, duration, audio_bitrate(duration, max_bytes))


def render_final_in_pieces(shots: Mapping[int, Shot], starts: Sequence[float], ends: Sequence[float],
                           song_path: str | os.PathLike, pieces_dir: str | os.PathLike,
                           out_path: str | os.PathLike | None = None, *, share: tuple[int, int] = (0, 1),
                           progress: Callable[[float], None] | None = None, parts_below: int | None = None,
                           with_sound: bool = True, **look) -> Path | None:
    """The clips final video of ``shots`` (by part index) made of pieces stored in ``pieces_dir``
    (:mod:`.pieces`): the pieces not stored yet are made, then, when ``out_path`` is given and
    every part has its shot, joined into it (else None). ``starts``/``ends``: every song segment's.

    With only some parts' shots, this makes the pieces those parts decide (a part's body, and
    the cut to a neighbour known too), for a final that is then quick to join; with
    ``parts_below``, only the pieces of the parts before it (the shots of the later ones only
    decide the look, as they will in the final). Made ahead (no ``out_path``), the first share
    also makes the join's sound, unless ``with_sound`` is False. ``look``:
    :func:`final_look`'s settings. A joined video over the size budget is rendered again whole
    (:func:`render_final`), which can lower the bitrate.
    """
    known = [shots[i] for i in sorted(shots)]
    fl = final_look(known, song_path, song_end=ends[-1], **look)
    making = shots if parts_below is None else {i: s for i, s in shots.items() if i < parts_below}
    with ThreadPoolExecutor(1) as beside:
        # the join's sound (~1.7 s of AAC) made ahead too, by one of the shares, beside its frames:
        # made before them it held that share back while the others' cores idled at their end
        sound = beside.submit(song_sound, Path(pieces_dir), song_path, fl.duration, fl.audio_kbps) \
            if out_path is None and share[0] == 0 and with_sound else None
        paths = render_pieces(making, starts, ends, fl, pieces_dir, share=share,
                              progress=None if progress is None else (lambda f: progress(min(f, 0.99))))
        if sound is not None:
            sound.result()
    if out_path is None or any(p is None for p in paths):
        return None
    out = join_pieces(paths, song_path, fl, out_path)
    if out.stat().st_size > look.get("max_bytes", 50_000_000):
        return render_final(known, song_path, out_path, progress=progress, **look)
    if progress is not None:
        progress(1.0)
    return out


def render_final(
    shots: list[Shot],
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    mode: str = "clips",
    height: int = 720,
    fps: float = 25,
    max_bytes: int = 50_000_000,
    progress: Callable[[float], None] | None = None,
    aspect: float | None = None,
    blend_frames: int = BLEND_FRAMES,
    fill: str = "blur",
    palette: str = "studio",
    crf: int = 23,
    preset: str = "veryfast",
) -> Path:
    """The whole song danced: H.264 (yuv420p, faststart) / AAC mp4 that Telegram plays inline.

    ``shots``: one per song segment, in order, covering ``[0, duration]``. ``mode="clips"``
    cross-edits the library videos (a ``blend_frames`` dissolve centred on each cut);
    ``mode="avatar"`` has one mannequin dance every shot (joints crossfaded across cuts).
    ``height`` is the frame's shorter side; ``aspect`` (width / height) defaults to the sources'
    (snapped, see :mod:`.sources`). The video has ``round(duration * fps)`` frames, so its
    length equals the song's within half a frame; the file stays under ``max_bytes``.
    ``progress(fraction)`` is called as frames are encoded.
    """
    if mode not in ("clips", "avatar"):
        raise ValueError(f"unknown mode {mode!r}")
    check_order(shots)
    out_path = Path(out_path)
    duration = _song_duration(song_path, shots[-1].dst_end)
    n_frames = max(1, int(round(duration * fps)))
    times = np.arange(n_frames) / fps
    aspect = aspect or auto_aspect(shots)

    audio_kbps = audio_bitrate(duration, max_bytes)
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps)
    heights = [h for h in FINAL_HEIGHTS if h < height]
    report = forward_only(progress)  # a retry starts over: the bar does not

    def pixels(side: int) -> float:
        return float(np.prod(frame_size(side, aspect)))

    def frames_at(short: int):
        W, H = frame_size(short, aspect)
        frames = (clip_frames(shots, times, W, H, blend_frames, fps, fill) if mode == "clips"
                  else avatar_frames(shots, times, W, H, palette))
        return frames, W, H

    encode_within(out_path, frames_at, n_frames, fps, short=height, smaller=heights, pixels=pixels, video_kbps=budget,
                  max_bytes=max_bytes, song_path=song_path, audio_start=0.0, audio_duration=duration, crf=crf,
                  preset=preset, audio_kbps=audio_kbps, progress=lambda f: report(min(f, 0.999)))
    report(1.0)
    return out_path


def poster_frame(video_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """The video's first frame as a JPEG (a still that stands for the video until it is sent;
    ~0.1 s). Written under a temporary name and renamed."""
    out_path = Path(out_path)
    tmp = out_path.with_name(f"{out_path.stem}.{uuid.uuid4().hex[:12]}.part.jpg")
    try:  # our own video: no demuxer sniffing needed
        run(["-nostdin", "-v", "error", "-y", "-i", str(video_path), "-frames:v", "1", "-q:v", "3", str(tmp)],
            timeout=30, check=True)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path
