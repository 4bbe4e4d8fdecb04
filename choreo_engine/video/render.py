"""Time-warp, preview grid, final video (clips / avatar) and the choreography sheet.

Pipeline step 7's video half. Everything here works from :class:`Shot` values - one library
segment placed on one song segment - and never touches the database.

Retiming
--------
Every shot runs on the song's clock: output frame ``k`` shows song time ``t = k / fps`` and the
shot's beat-to-beat map (:func:`choreo_engine.dance.timewarp.time_map`) gives the clip time, clamped
to the clip so the picture holds at its ends. Video takes the source frame whose presentation
time is nearest (read by timestamp, not by index: OpenCV's index seeks are off by one frame on
clips whose first timestamps are irregular); the avatar interpolates the pose array.

Route chosen for speed (measured on this 2-core machine, shared with other work: load 2-5)
-----------------------------------------------------------------------------------------
Frames are produced in Python with OpenCV (decode by timestamp, ``cv2.resize`` into the
frame, ``cv2.addWeighted`` for the dissolves, :func:`mannequin.draw_mannequin` for the avatar),
converted to I420 with ``cv2.cvtColor`` and piped raw into one ffmpeg process that encodes
H.264 (veryfast, CRF 23 under a VBV cap from the size budget) and muxes the song as AAC.

Primitive costs at 720p: decoding the 480p library H.264 ~980 frames/s, resize + pad ~800/s,
a dissolve ~860/s, the mannequin ~225/s (4.4 ms); frame generation alone runs at ~25x real
time (clips) and ~17x (avatar) at 1280x720, so x264 is the bottleneck. Piping I420 instead
of bgr24 halves the bytes and skips ffmpeg's swscale: encoding went from 7.2x to 9.0x real
time on the same 500 frames (and the colours round-trip closer: mean error 1.0 vs 2.0).

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

Frames and sizes
----------------
Clips are scaled into a common frame keeping their display aspect; the rest of the frame is
filled with a blurred, darkened copy of the same picture (``fill="blur"``) or black. The frame's
aspect is, unless given, the sources' median aspect snapped to 16:9, 4:3, 1:1, 3:4 or 9:16, and
``height`` is its shorter side (720 -> 1280x720, 720x720 or 720x1280). The final video's bitrate
is capped by a VBV budget computed from the duration and ``max_bytes``; when the budget would
give fewer than ``MIN_BITS_PER_PIXEL`` the frame is made smaller, and the file size is checked
after encoding (re-encoded with less bitrate, and smaller, when it is still over). The sound is
AAC at 128 kbit/s, less (down to 48) when it alone would take over 35 % of the budget.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..dance import timewarp
from ..music.audio import Segment, SongAnalysis, ffmpeg_exe, probe_duration
from .encode import EncodeError, pipe_frames
from ..errors import ChoreoError
from ..dance.library import LibrarySegment, load_poses

__all__ = [
    "RenderError",
    "Shot",
    "VideoInfo",
    "audio_bitrate",
    "frame_size",
    "preview_layout",
    "render_final",
    "render_preview",
    "render_sheet",
    "render_single_preview",
    "retime_poses",
    "schedule",
    "sheet_size",
    "snap_aspect",
    "source_frame_times",
    "stage_poses",
    "video_bitrate_budget",
    "video_info",
]

# Aspect ratios the output frame snaps to (width / height).
ASPECTS = (16 / 9, 4 / 3, 1.0, 3 / 4, 9 / 16)
# Cross-dissolve between two clips at a cut, in output frames (centred on the beat).
BLEND_FRAMES = 3
# When filling the frame needs at most this much zoom (4.5 %), crop the edges rather than pad.
COVER_TOLERANCE = 1.045
# The avatar's joints are crossfaded over this many seconds around each cut.
AVATAR_CROSSFADE = 0.25
# The avatar's figure: head-to-feet height as a share of the frame height, and the floor row.
FIGURE_HEIGHT = 0.66
FLOOR_ROW = 0.92
# MediaPipe's depth of a real dancer is noisy and exaggerated; the mannequin sizes its limbs
# from 3-D bone lengths, so at full depth it swells and shrinks (+-25 %). Halved (and smoothed
# over ~0.1 s) the size varies by about +-7 %.
DEPTH_SCALE = 0.5
# A standing body is about this many torso lengths (shoulder centre to hip centre) tall.
BODY_TORSOS = 3.3
AUDIO_KBPS = 128
# Below this many bits per pixel per frame the final video is rendered smaller.
MIN_BITS_PER_PIXEL = 0.035
# Share of ``max_bytes`` the encoder aims at (the rest is headroom for the container).
SIZE_MARGIN = 0.93
FINAL_HEIGHTS = (1080, 720, 540, 480, 360, 270, 240)
PREVIEW_MAX_WIDTH = 1280
BADGE_FILL = (63, 210, 255)  # BGR of #FFD23F, a yellow a phone shows clearly on any picture
BADGE_INK = (20, 20, 20)


class RenderError(ChoreoError):
    code = "render_failed"
    default_message = "I couldn't make the video. Please try again."


# --------------------------------------------------------------------------- shots


@dataclass
class Shot:
    """One library segment placed on a song segment."""

    video_path: str
    poses_path: str
    fps: float  # the library clip (video has no audio)
    src_beats: np.ndarray
    src_end: float  # the library segment's beats and end (clip seconds)
    dst_beats: np.ndarray
    dst_start: float
    dst_end: float  # the song segment's beats, start, end (song seconds)
    label: str = ""  # e.g. clip name
    aspect: float | None = None  # display width / height of the clip; probed from the video when None

    def __post_init__(self) -> None:
        self.video_path = str(self.video_path)
        self.poses_path = str(self.poses_path)
        self.src_beats = np.asarray(self.src_beats, dtype=float).ravel()
        self.dst_beats = np.asarray(self.dst_beats, dtype=float).ravel()
        if len(self.src_beats) == 0 or len(self.dst_beats) == 0:
            raise ValueError("a shot needs at least one beat on each side")
        if not self.dst_end > self.dst_start:
            raise ValueError(f"empty song segment [{self.dst_start}, {self.dst_end})")

    @classmethod
    def from_segments(cls, lib_seg: LibrarySegment, song_seg: Segment) -> "Shot":
        return cls(
            video_path=str(lib_seg.video_path),
            poses_path=str(lib_seg.poses_path),
            fps=float(lib_seg.fps),
            src_beats=np.asarray(lib_seg.beats, dtype=float),
            src_end=float(lib_seg.end),
            dst_beats=np.asarray(song_seg.beats, dtype=float),
            dst_start=float(song_seg.start),
            dst_end=float(song_seg.end),
            label=str(lib_seg.clip_name or ""),
            aspect=getattr(lib_seg, "aspect", None),
        )

    @property
    def duration(self) -> float:
        return self.dst_end - self.dst_start

    def source_times(self, times: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
        """Clip time for each song time (the beat-to-beat map), clamped to ``limits``."""
        return timewarp.time_map(
            np.atleast_1d(np.asarray(times, dtype=float)), self.dst_beats, self.dst_end,
            self.src_beats, self.src_end, limits,
        )

    def display_aspect(self) -> float:
        if self.aspect:
            return float(self.aspect)
        if os.path.exists(self.video_path):
            return video_info(self.video_path).aspect
        return 1.0


def schedule(shots: Sequence[Shot], times: np.ndarray) -> np.ndarray:
    """Index of the shot that covers each song time (before the first: 0; after the last: last)."""
    starts = np.array([s.dst_start for s in shots])
    idx = np.searchsorted(starts, np.asarray(times, dtype=float), side="right") - 1
    return np.clip(idx, 0, len(shots) - 1)


def _check_order(shots: Sequence[Shot]) -> None:
    if not shots:
        raise ValueError("no shots")
    for a, b in zip(shots, shots[1:]):
        if b.dst_start < a.dst_start:
            raise ValueError("shots must be in song order")


# --------------------------------------------------------------------------- video input


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float  # seconds (frame count / average fps)
    sar: float = 1.0  # sample aspect ratio

    @property
    def aspect(self) -> float:
        return self.width * self.sar / self.height


@lru_cache(maxsize=256)
def _video_info(path: str, _mtime: float) -> VideoInfo:
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise RenderError(f"I couldn't read the dance clip {Path(path).name}.")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        num, den = cap.get(cv2.CAP_PROP_SAR_NUM), cap.get(cv2.CAP_PROP_SAR_DEN)
        sar = num / den if num > 0 and den > 0 else 1.0
        if w <= 0 or h <= 0:
            raise RenderError(f"I couldn't read the dance clip {Path(path).name}.")
        return VideoInfo(w, h, float(fps), float(count / fps) if count > 0 else 0.0, float(sar))
    finally:
        cap.release()


def video_info(path: str | os.PathLike) -> VideoInfo:
    path = str(path)
    return _video_info(path, os.path.getmtime(path))


class _ClipReader:
    """Frames of one video by presentation time, decoding forward and seeking only when needed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cap = cv2.VideoCapture(path)
        if not self.cap.isOpened():
            raise RenderError(f"I couldn't read the dance clip {Path(path).name}.")
        self.prev: tuple[float, np.ndarray] | None = None
        self.cur: tuple[float, np.ndarray] | None = None
        self.eof = False
        self.step = 1.0 / (self.cap.get(cv2.CAP_PROP_FPS) or 25.0)

    def close(self) -> None:
        self.cap.release()

    def _read(self) -> tuple[float, np.ndarray] | None:
        ok, frame = self.cap.read()
        if not ok or frame is None:
            self.eof = True
            return None
        pts = self.cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self.cur is not None and pts <= self.cur[0]:  # a container without usable timestamps
            pts = self.cur[0] + self.step
        return pts, frame

    def _seek(self, t: float) -> None:
        self.eof, self.prev, self.cur = False, None, None
        target = max(0.0, t - 0.3)
        self.cap.set(cv2.CAP_PROP_POS_MSEC, target * 1000.0)
        self.cur = self._read()
        if self.cur is None or self.cur[0] > t + 1e-3:
            self.eof, self.cur = False, None
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.cur = self._read()
        if self.cur is None:
            raise RenderError(f"I couldn't read the dance clip {Path(self.path).name}.")

    def frame_at(self, t: float) -> tuple[float, np.ndarray]:
        """(timestamp, BGR frame) of the frame shown nearest to ``t`` seconds."""
        if self.cur is None:
            self._seek(t)
        else:
            lo = self.prev[0] if self.prev is not None else self.cur[0]
            if t < lo - 1e-3 or t > self.cur[0] + 1.5:
                self._seek(t)
        assert self.cur is not None
        while not self.eof and self.cur[0] < t:
            nxt = self._read()
            if nxt is None:
                break
            self.prev, self.cur = self.cur, nxt
        if self.prev is not None and abs(self.prev[0] - t) <= abs(self.cur[0] - t):
            return self.prev
        return self.cur


class _Readers:
    """A few open readers, least recently used closed first."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self.open: OrderedDict[tuple, _ClipReader] = OrderedDict()

    def get(self, key: tuple) -> _ClipReader:
        reader = self.open.pop(key, None)
        if reader is None:
            reader = _ClipReader(key[0])
            while len(self.open) >= self.limit:
                self.open.popitem(last=False)[1].close()
        self.open[key] = reader
        return reader

    def close(self) -> None:
        for r in self.open.values():
            r.close()
        self.open.clear()


# --------------------------------------------------------------------------- geometry


def snap_aspect(aspect: float) -> float:
    """The nearest of :data:`ASPECTS` (in log ratio)."""
    return min(ASPECTS, key=lambda a: abs(math.log(a / max(aspect, 1e-3))))


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def frame_size(short_side: int, aspect: float) -> tuple[int, int]:
    """(width, height), both even, with ``short_side`` the shorter of the two."""
    if aspect >= 1.0:
        return _even(short_side * aspect), _even(short_side)
    return _even(short_side), _even(short_side / aspect)


def _auto_aspect(shots: Sequence[Shot]) -> float:
    aspects = [s.display_aspect() for s in shots]
    return snap_aspect(float(np.exp(np.median(np.log(aspects))))) if aspects else 16 / 9


class _Fit:
    """Scale a source frame into a ``W x H`` box keeping its display aspect; fill the rest."""

    def __init__(self, info: VideoInfo, W: int, H: int, fill: str = "blur") -> None:
        self.W, self.H, self.fill = W, H, fill
        disp_w = info.width * info.sar
        fit = min(W / disp_w, H / info.height)
        cover = max(W / disp_w, H / info.height)
        # centre crop of the source with the box's aspect (the backdrop, or the picture itself)
        cw = min(info.width, int(round(W / cover / info.sar)))
        ch = min(info.height, int(round(H / cover)))
        self.crop = ((info.width - cw) // 2, (info.height - ch) // 2, cw, ch)
        self.small = (max(4, W // 12), max(4, H // 12))
        if cover / fit <= COVER_TOLERANCE:
            # a thin bar would look like a border: crop the few edge pixels instead
            self.rw, self.rh, self.x0, self.y0 = W, H, 0, 0
            self.padded, self.cropped = False, True
        else:
            rw, rh = int(round(disp_w * fit)), int(round(info.height * fit))
            self.rw, self.rh = min(rw, W), min(rh, H)
            self.x0, self.y0 = (W - self.rw) // 2, (H - self.rh) // 2
            self.padded = self.rw < W or self.rh < H
            self.cropped = False
        down = self.rw < info.width or self.rh < info.height
        self.interp = cv2.INTER_AREA if down else cv2.INTER_LINEAR

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        W, H = self.W, self.H
        if self.cropped:
            x, y, cw, ch = self.crop
            frame = frame[y : y + ch, x : x + cw]
        if frame.shape[1] != self.rw or frame.shape[0] != self.rh:
            sharp = cv2.resize(frame, (self.rw, self.rh), interpolation=self.interp)
        else:
            sharp = frame
        if not self.padded:
            return np.ascontiguousarray(sharp)
        if self.fill == "blur":
            x, y, cw, ch = self.crop
            small = cv2.resize(frame[y : y + ch, x : x + cw], self.small, interpolation=cv2.INTER_AREA)
            small = cv2.GaussianBlur(small, (0, 0), 1.6)
            small = cv2.convertScaleAbs(small, alpha=0.5)
            out = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
        else:
            out = np.zeros((H, W, 3), np.uint8)
        out[self.y0 : self.y0 + self.rh, self.x0 : self.x0 + self.rw] = sharp
        return out


def source_frame_times(shot: Shot, times: np.ndarray) -> np.ndarray:
    """Clip times the video of ``shot`` is sampled at for song ``times`` (clamped to the clip)."""
    info = video_info(shot.video_path)
    end = max(0.0, info.duration - 0.5 / max(info.fps, 1.0))
    return shot.source_times(times, (0.0, end))


class _ShotFrames:
    """Placed (fitted) frames of the shots, by shot index and song time, with a reuse cache."""

    def __init__(self, shots: Sequence[Shot], W: int, H: int, fill: str = "blur", readers: int = 8,
                 reader_per_shot: bool = False) -> None:
        self.shots, self.W, self.H, self.fill = shots, W, H, fill
        self.readers = _Readers(readers)
        self.reader_per_shot = reader_per_shot
        self.fits: dict[str, _Fit] = {}
        self.last: dict[int, tuple[float, np.ndarray]] = {}
        self.limits: dict[str, tuple[float, float]] = {}

    def close(self) -> None:
        self.readers.close()

    def get(self, j: int, t: float) -> np.ndarray:
        shot = self.shots[j]
        path = shot.video_path
        if path not in self.fits:
            info = video_info(path)
            self.fits[path] = _Fit(info, self.W, self.H, self.fill)
            self.limits[path] = (0.0, max(0.0, info.duration - 0.5 / max(info.fps, 1.0)))
        src = float(shot.source_times(np.array([t]), self.limits[path])[0])
        # consecutive shots read through different readers, so a blend never seeks back and forth
        pts, frame = self.readers.get((path, j if self.reader_per_shot else j % 2)).frame_at(src)
        cached = self.last.get(j)
        if cached is not None and cached[0] == pts:
            return cached[1]
        img = self.fits[path](frame)
        self.last[j] = (pts, img)
        if not self.reader_per_shot:
            for old in [k for k in self.last if k < j - 1]:
                del self.last[old]
        return img


def _clip_frames(shots: Sequence[Shot], times: np.ndarray, W: int, H: int, blend_frames: int, fps: float,
                 fill: str) -> Iterator[np.ndarray]:
    """The cross-edit: each shot on its song segment, a dissolve of ``blend_frames`` centred on each cut."""
    n = len(shots)
    sched = schedule(shots, times)
    blend = blend_frames / fps
    source = _ShotFrames(shots, W, H, fill)
    try:
        for k, t in enumerate(times):
            i = int(sched[k])
            img = source.get(i, t)
            if blend > 0:
                if i > 0 and t < shots[i].dst_start + blend / 2:
                    a = (t - shots[i].dst_start) / blend + 0.5
                    img = cv2.addWeighted(source.get(i - 1, t), 1.0 - a, img, a, 0.0)
                elif i < n - 1 and t >= shots[i].dst_end - blend / 2:
                    a = (t - shots[i].dst_end) / blend + 0.5
                    img = cv2.addWeighted(img, 1.0 - a, source.get(i + 1, t), a, 0.0)
            yield img
    finally:
        source.close()


# --------------------------------------------------------------------------- poses (avatar)

_L_SH, _R_SH, _L_HIP, _R_HIP = 11, 12, 23, 24
_FEET = [27, 28, 29, 30, 31, 32]
_POSE_CACHE: "OrderedDict[str, tuple[np.ndarray, float]]" = OrderedDict()


def _fill_nan(poses: np.ndarray) -> np.ndarray:
    """Frames without a pose take the nearest posed frames' values (linear in between)."""
    out = poses.astype(np.float32).copy()
    bad = ~np.isfinite(out[:, :, :3]).all(axis=(1, 2))
    if not bad.any():
        return out
    if bad.all():
        raise RenderError("This dance clip has no poses to draw.")
    idx = np.arange(len(out))
    good = idx[~bad]
    flat = out.reshape(len(out), -1)
    for j in range(flat.shape[1]):
        flat[bad, j] = np.interp(idx[bad], good, flat[good, j])
    return flat.reshape(out.shape)


def _clip_poses(path: str) -> tuple[np.ndarray, float]:
    """(poses with gaps filled, x and y smoothed 1-2-1 and depth over ~0.16 s, fps), cached."""
    hit = _POSE_CACHE.get(path)
    if hit is not None:
        _POSE_CACHE.move_to_end(path)
        return hit
    poses, fps = load_poses(path)
    poses = _fill_nan(poses)
    if len(poses) >= 3:
        from scipy.ndimage import gaussian_filter1d

        sm = poses.copy()
        sm[1:-1, :, :2] = 0.25 * poses[:-2, :, :2] + 0.5 * poses[1:-1, :, :2] + 0.25 * poses[2:, :, :2]
        sm[:, :, 2] = gaussian_filter1d(poses[:, :, 2], sigma=max(0.08 * fps, 0.5), axis=0, mode="nearest")
        poses = sm
    entry = (poses, float(fps))
    _POSE_CACHE[path] = entry
    while len(_POSE_CACHE) > 32:
        _POSE_CACHE.popitem(last=False)
    return entry


def _torso(xy: np.ndarray) -> np.ndarray:
    sh = xy[:, [_L_SH, _R_SH]].mean(axis=1)
    hp = xy[:, [_L_HIP, _R_HIP]].mean(axis=1)
    return np.linalg.norm(sh - hp, axis=1)


def retime_poses(shot: Shot, times: np.ndarray) -> np.ndarray:
    """The shot's poses at song ``times``: ``(T, 33, 4)`` image-normalised, as in the clip."""
    poses, fps = _clip_poses(shot.poses_path)
    src = shot.source_times(times, (0.0, (len(poses) - 1) / fps))
    return timewarp.sample_poses(poses, fps, src).astype(np.float32)


def _staged(shot: Shot, times: np.ndarray, own: np.ndarray, W: int, H: int, figure: float,
            floor_row: float) -> np.ndarray:
    """Poses of ``shot`` at ``times`` re-anchored on the stage (pixels x, y, z and visibility).

    ``own`` marks the times the shot is on screen; its anchor (median hip x, floor under the
    feet, median torso length) is measured there, so every shot stands on the same spot at the
    same size whatever the framing of its clip. Travel within the shot is kept.
    """
    poses = retime_poses(shot, times)
    aspect = shot.display_aspect()
    iso = poses.copy()
    iso[..., 0] *= aspect
    iso[..., 2] *= aspect
    ref = iso[own] if own.any() else iso
    hips_x = ref[:, [_L_HIP, _R_HIP], 0].mean(axis=1)
    anchor_x = float(np.median(hips_x))
    feet_y = ref[:, _FEET, 1].max(axis=1)
    floor_src = float(np.percentile(feet_y, 90))
    torso_shot = float(np.median(_torso(ref[..., :2])))
    clip_poses, _ = _clip_poses(shot.poses_path)
    clip_iso = clip_poses[:, :, :2] * (aspect, 1.0)
    torso_clip = float(np.median(_torso(clip_iso)))
    torso = float(np.clip(torso_shot, 0.85 * torso_clip, 1.18 * torso_clip)) if torso_clip > 0 else torso_shot
    k = (figure * H / BODY_TORSOS) / max(torso, 1e-6)
    out = np.empty_like(iso)
    out[..., 0] = (iso[..., 0] - anchor_x) * k + W / 2.0
    out[..., 1] = floor_row * H - (floor_src - iso[..., 1]) * k
    out[..., 2] = iso[..., 2] * k * DEPTH_SCALE
    out[..., 3] = poses[..., 3]
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def stage_poses(shots: Sequence[Shot], times: np.ndarray, width: int, height: int, *,
                crossfade: float = AVATAR_CROSSFADE, figure: float = FIGURE_HEIGHT,
                floor_row: float = FLOOR_ROW) -> np.ndarray:
    """One continuous dance for the avatar: ``(T, 33, 4)`` landmarks normalised to a ``width x height`` frame.

    Each shot is retimed onto its song segment and re-anchored (same hip position, floor and
    figure size, see :func:`_staged`); around each cut the joints crossfade over ``crossfade``
    seconds (smoothstep), centred on the cut.
    """
    _check_order(shots)
    times = np.asarray(times, dtype=float)
    sched = schedule(shots, times)
    half = crossfade / 2.0
    out = np.zeros((len(times), 33, 4), np.float32)
    staged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for j, shot in enumerate(shots):
        own = sched == j
        if not own.any():
            continue
        lo = shot.dst_start - half if j > 0 else -np.inf
        hi = shot.dst_end + half if j < len(shots) - 1 else np.inf
        near = (times >= lo) & (times < hi)
        idx = np.flatnonzero(near | own)
        staged[j] = (idx, _staged(shot, times[idx], own[idx], width, height, figure, floor_row))
    for j, (idx, poses) in staged.items():
        own = sched[idx] == j
        out[idx[own]] = poses[own]
    if crossfade > 0:
        for j in range(1, len(shots)):
            if j - 1 not in staged or j not in staged:
                continue
            b = shots[j].dst_start
            ia, pa = staged[j - 1]
            ib, pb = staged[j]
            window = np.flatnonzero((times >= b - half) & (times < b + half))
            if not len(window):
                continue
            ra = np.searchsorted(ia, window)
            rb = np.searchsorted(ib, window)
            ok = (ra < len(ia)) & (rb < len(ib))
            ok[ok] &= (ia[ra[ok]] == window[ok]) & (ib[rb[ok]] == window[ok])
            w = _smoothstep((times[window] - b) / crossfade + 0.5)[:, None, None]
            blend = (1.0 - w) * pa[np.minimum(ra, len(ia) - 1)] + w * pb[np.minimum(rb, len(ib) - 1)]
            out[window[ok]] = blend[ok]
    out[..., 0] /= width
    out[..., 1] /= height
    out[..., 2] /= width
    return out


def _avatar_frames(shots: Sequence[Shot], times: np.ndarray, W: int, H: int, palette: str) -> Iterator[np.ndarray]:
    from ..starter import mannequin

    lm = stage_poses(shots, times, W, H)
    floor_px = FLOOR_ROW * H
    bg = mannequin.render_background(W, H, palette, floor_y=floor_px)
    frame = np.empty_like(bg)
    for k in range(len(times)):
        np.copyto(frame, bg)
        mannequin.draw_mannequin(frame, lm[k], palette, floor_y=floor_px)
        yield frame


# --------------------------------------------------------------------------- encoding


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


def _encode(out_path: Path, frames: Iterable[np.ndarray], n_frames: int, W: int, H: int, fps: float, *,
            song_path: str | os.PathLike, audio_start: float, audio_duration: float, video_kbps: float,
            crf: int, preset: str = "veryfast", audio_kbps: int = AUDIO_KBPS, fade: bool = False,
            progress: Callable[[float], None] | None = None) -> None:
    """Pipe ``n_frames`` BGR frames (as I420) into x264 and mux ``song_path[audio_start : +audio_duration]`` as AAC."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.stem + ".part.mp4")
    kbps = max(50, int(video_kbps))
    afilter = []
    if fade and audio_duration > 0.2:
        afilter = ["-af", f"afade=t=in:d=0.02,afade=t=out:st={audio_duration - 0.05:.3f}:d=0.05"]
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-framerate", f"{fps:.6g}", "-i", "pipe:0",
        "-ss", f"{audio_start:.4f}", "-t", f"{audio_duration:.4f}", "-i", str(song_path),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-maxrate", f"{kbps}k",
        "-bufsize", f"{kbps}k", "-pix_fmt", "yuv420p", "-profile:v", "high", "-g", str(int(round(2 * fps))),
        *afilter, "-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2", "-ar", "44100",
        "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]
    # converted here (SIMD, BT.601 limited range like ffmpeg's default, and closer to the source):
    # half the bytes through the pipe and no swscale in ffmpeg, ~25 % faster
    try:
        pipe_frames(cmd, frames, lambda frame: cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).data, n_frames, progress)
    except EncodeError as exc:
        tmp.unlink(missing_ok=True)
        raise RenderError(str(exc)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out_path)


def _song_duration(song_path: str | os.PathLike, fallback: float) -> float:
    d = probe_duration(song_path)
    return float(d) if d else float(fallback)


# --------------------------------------------------------------------------- final video


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
    (snapped, see the module docstring). The video has ``round(duration * fps)`` frames, so its
    length equals the song's within half a frame; the file stays under ``max_bytes``.
    ``progress(fraction)`` is called as frames are encoded.
    """
    if mode not in ("clips", "avatar"):
        raise ValueError(f"unknown mode {mode!r}")
    _check_order(shots)
    out_path = Path(out_path)
    duration = _song_duration(song_path, shots[-1].dst_end)
    n_frames = max(1, int(round(duration * fps)))
    times = np.arange(n_frames) / fps
    aspect = aspect or _auto_aspect(shots)

    audio_kbps = audio_bitrate(duration, max_bytes)
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps)
    heights = [h for h in FINAL_HEIGHTS if h < height]
    reported = [0.0]

    def report(fraction: float) -> None:  # never backwards, even when a retry starts over
        if progress is not None and fraction > reported[0]:
            reported[0] = fraction
            progress(fraction)

    short = height
    while heights and budget * 1000.0 / (np.prod(frame_size(short, aspect)) * fps) < MIN_BITS_PER_PIXEL:
        short = heights.pop(0)

    for attempt in range(4):
        W, H = frame_size(short, aspect)
        frames = (_clip_frames(shots, times, W, H, blend_frames, fps, fill) if mode == "clips"
                  else _avatar_frames(shots, times, W, H, palette))
        _encode(out_path, frames, n_frames, W, H, fps, song_path=song_path, audio_start=0.0,
                audio_duration=duration, video_kbps=budget, crf=crf, preset=preset, audio_kbps=audio_kbps,
                progress=lambda f: report(min(f, 0.999)))
        size = out_path.stat().st_size
        if size <= max_bytes:
            break
        # over (x264 has a floor per frame): less bitrate, and a smaller frame when that is too few bits
        budget *= 0.85 * max_bytes / size
        while heights and budget * 1000.0 / (W * H * fps) < MIN_BITS_PER_PIXEL and short > heights[0]:
            short = heights.pop(0)
            W, H = frame_size(short, aspect)
    else:
        out_path.unlink(missing_ok=True)
        raise RenderError("The video came out too large to send.")
    report(1.0)
    return out_path


# --------------------------------------------------------------------------- previews


def _font(size: int, bold: bool = True):
    from PIL import ImageFont
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


@lru_cache(maxsize=64)
def _badge(number: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A round number badge: (BGR patch, alpha 0..1) of side ``2 * radius + shadow``."""
    from PIL import Image, ImageDraw

    ss = 4  # supersampled for smooth edges
    pad = max(2, radius // 8)
    side = (2 * radius + 2 * pad) * ss
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = side // 2
    r = radius * ss
    sh = pad * ss // 2
    d.ellipse([c - r + sh, c - r + sh, c + r + sh, c + r + sh], fill=(0, 0, 0, 110))
    d.ellipse([c - r, c - r, c + r, c + r], fill=(20, 20, 20, 255))
    ring = max(ss, int(r * 0.09))
    fill_rgb = tuple(reversed(BADGE_FILL))
    d.ellipse([c - r + ring, c - r + ring, c + r - ring, c + r - ring], fill=(*fill_rgb, 255))
    text = str(number)
    font = _font(int(r * (1.25 if len(text) == 1 else 0.95)))
    d.text((c, c), text, font=font, fill=(*reversed(BADGE_INK), 255),
           anchor="mm")
    img = img.resize((side // ss, side // ss), Image.LANCZOS)
    arr = np.asarray(img).astype(np.float32)
    bgr = arr[..., [2, 1, 0]]
    alpha = arr[..., 3:4] / 255.0
    return bgr, alpha


def _label_patch(text: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageDraw

    font = _font(size, bold=False)
    d0 = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = d0.textbbox((0, 0), text, font=font)
    pad = max(2, size // 4)
    w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
    img = Image.new("RGBA", (w, h), (0, 0, 0, 150))
    ImageDraw.Draw(img).text((pad - box[0], pad - box[1]), text, font=font, fill=(255, 255, 255, 255))
    arr = np.asarray(img).astype(np.float32)
    return arr[..., [2, 1, 0]], arr[..., 3:4] / 255.0


def _paste(dst: np.ndarray, patch: tuple[np.ndarray, np.ndarray], x: int, y: int) -> None:
    bgr, alpha = patch
    h = min(bgr.shape[0], dst.shape[0] - y)
    w = min(bgr.shape[1], dst.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    roi = dst[y : y + h, x : x + w].astype(np.float32)
    a = alpha[:h, :w]
    dst[y : y + h, x : x + w] = (bgr[:h, :w] * a + roi * (1.0 - a) + 0.5).astype(np.uint8)


_GRIDS = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2), 6: (3, 2)}
_GAP = 4


def preview_layout(n: int, aspect: float, max_height: int = 480,
                   max_width: int = PREVIEW_MAX_WIDTH) -> tuple[int, int, int, int, int, int]:
    """(cols, rows, tile_w, tile_h, frame_w, frame_h) of a preview grid of ``n`` (1-6) tiles."""
    if n not in _GRIDS:
        raise ValueError("a preview shows 1 to 6 candidates")
    cols, rows = _GRIDS[n]
    tile_h = (max_height - _GAP * (rows - 1)) / rows
    tile_w = tile_h * aspect
    if tile_w * cols + _GAP * (cols - 1) > max_width:
        tile_w = (max_width - _GAP * (cols - 1)) / cols
        tile_h = tile_w / aspect
    tile_w, tile_h = _even(tile_w), _even(tile_h)
    return cols, rows, tile_w, tile_h, cols * tile_w + _GAP * (cols - 1), rows * tile_h + _GAP * (rows - 1)


def _preview_frames(shots: Sequence[Shot], times: np.ndarray, cols: int, tile_w: int, tile_h: int,
                    W: int, H: int, numbers: Sequence[int] | None, show_labels: bool,
                    fill: str) -> Iterator[np.ndarray]:
    radius = int(np.clip(round(0.15 * min(tile_w, tile_h)), 14, 40))
    margin = max(4, int(round(0.035 * min(tile_w, tile_h))))
    badges = [_badge(int(n), radius) for n in numbers] if numbers is not None else None
    labels = ([_label_patch(s.label, max(10, tile_h // 16)) if s.label else None for s in shots]
              if show_labels else [None] * len(shots))
    # each tile reads through its own reader, even when two tiles share a clip
    source = _ShotFrames(shots, tile_w, tile_h, fill, readers=len(shots) + 1, reader_per_shot=True)
    frame = np.full((H, W, 3), 18, np.uint8)
    try:
        for t in times:
            for j in range(len(shots)):
                r, c = divmod(j, cols)
                x, y = c * (tile_w + _GAP), r * (tile_h + _GAP)
                frame[y : y + tile_h, x : x + tile_w] = source.get(j, t)
                if badges is not None:
                    _paste(frame, badges[j], x + margin, y + margin)
                if labels[j] is not None:
                    lp = labels[j]
                    _paste(frame, lp, x + margin, y + tile_h - lp[0].shape[0] - margin)
            yield frame
    finally:
        source.close()


def _render_grid(shots: Sequence[Shot], song_path, out_path, start: float, end: float,
                 numbers: Sequence[int] | None, max_height: int, max_bytes: int, fps: float,
                 aspect: float | None, show_labels: bool, fill: str, max_width: int = PREVIEW_MAX_WIDTH) -> Path:
    if not shots:
        raise ValueError("no shots")
    if not end > start:
        raise ValueError("empty preview range")
    out_path = Path(out_path)
    aspect = aspect or _auto_aspect(shots)
    duration = end - start
    n_frames = max(1, int(round(duration * fps)))
    times = start + np.arange(n_frames) / fps
    audio_kbps = min(96, audio_bitrate(duration, max_bytes))
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps=audio_kbps)
    height = max_height
    for _ in range(5):
        cols, _, tile_w, tile_h, W, H = preview_layout(len(shots), aspect, height, max_width)
        frames = _preview_frames(shots, times, cols, tile_w, tile_h, W, H, numbers, show_labels, fill)
        _encode(out_path, frames, n_frames, W, H, fps, song_path=song_path, audio_start=start,
                audio_duration=duration, video_kbps=budget, crf=24, audio_kbps=audio_kbps, fade=True)
        size = out_path.stat().st_size
        if size <= max_bytes:
            return out_path
        budget *= 0.7 * max_bytes / size
        if budget * 1000.0 / (W * H * fps) < MIN_BITS_PER_PIXEL:
            height = int(height * 0.75)
            max_width = int(max_width * 0.75)
    out_path.unlink(missing_ok=True)
    raise RenderError("The preview came out too large to send.")


def render_preview(
    shots: list[Shot],
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    start: float,
    end: float,
    numbers: Sequence[int] | None = None,
    max_height: int = 480,
    max_bytes: int = 2_000_000,
    fps: float = 20,
    aspect: float | None = None,
    show_labels: bool = False,
    fill: str = "blur",
) -> Path:
    """Up to six candidates for one song segment ``[start, end)``, tiled 3x2 and numbered.

    Each tile is its shot retimed onto the segment; a yellow badge in its top-left corner shows
    its number (``numbers``, default 1..n) large enough to read on a phone. The clip carries the
    segment's audio (AAC). At most ``max_height`` tall (and 1280 wide) and ``max_bytes`` large:
    the size is checked after encoding and the preview re-encoded smaller when over.
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(shots) + 1))
    if len(numbers) != len(shots):
        raise ValueError("one number per shot")
    return _render_grid(shots, song_path, out_path, start, end, numbers, max_height, max_bytes, fps,
                        aspect, show_labels, fill)


def render_single_preview(
    shot: Shot,
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    number: int | None = None,
    max_height: int = 480,
    max_bytes: int = 2_000_000,
    fps: float = 20,
    aspect: float | None = None,
    show_labels: bool = False,
    fill: str = "blur",
) -> Path:
    """One candidate on its song segment (``[shot.dst_start, shot.dst_end)`` unless given), badge optional."""
    start = shot.dst_start if start is None else start
    end = shot.dst_end if end is None else end
    return _render_grid([shot], song_path, out_path, start, end, None if number is None else [number],
                        max_height, max_bytes, fps, aspect, show_labels, fill, max_width=max_height * 2)


# --------------------------------------------------------------------------- sheet


def sheet_size(width_px: int, n_segments: int) -> tuple[int, int]:
    """(width, height) in pixels of a choreography sheet.

    Segments are laid out in rows of ``per_row = clamp(width_px // 200, 1, n_segments)`` cells
    (8 at the default 1600 px), each ``cell = width_px / per_row`` wide and ``1.6 * cell`` tall,
    below a header of ``0.2 * width_px`` (title and the whole-song timeline) and above a footer
    of ``0.035 * width_px`` (legend)::

        height = round(0.2 * width_px) + rows * round(1.6 * cell) + round(0.035 * width_px)
    """
    per_row = _per_row(width_px, n_segments)
    rows = math.ceil(max(n_segments, 1) / per_row)
    cell = width_px / per_row
    return int(width_px), int(round(0.2 * width_px) + rows * round(1.6 * cell) + round(0.035 * width_px))


def _per_row(width_px: int, n_segments: int) -> int:
    return int(np.clip(width_px // 200, 1, max(n_segments, 1)))


def _thumbnail(shot: Shot, t: float, side: int = 320) -> np.ndarray:
    """RGB image of the mannequin in the shot's pose at song time ``t`` (white ground, for print)."""
    from ..starter import mannequin

    lm = stage_poses([shot], np.array([t]), side, side, crossfade=0.0, figure=0.86, floor_row=0.92)[0]
    img = np.full((side, side, 3), 255, np.uint8)
    fy = int(0.92 * side)
    cv2.line(img, (int(0.08 * side), fy), (int(0.92 * side), fy), (215, 215, 215), max(1, side // 160), cv2.LINE_AA)
    mannequin.draw_mannequin(img, lm, "studio", floor_y=0.92 * side)
    return img[..., ::-1]


def _motion_fallback(shots: Sequence[Shot], fps: float = 25.0) -> list[np.ndarray]:
    """Per-beat motion levels of each chosen move as danced on the song (retimed), relative to this sheet."""
    from ..dance import motion, pose

    raw = []
    for s in shots:
        times = np.arange(int(np.floor(s.dst_start * fps)), int(np.ceil(s.dst_end * fps)) + 1) / fps
        poses = retime_poses(s, times)
        norm = pose.normalize(poses, s.display_aspect())
        speed = motion.joint_speed(norm, fps)
        raw.append(motion.per_beat_motion(speed, fps, s.dst_beats - times[0], s.dst_end - times[0]))
    edges = motion.level_edges(np.concatenate(raw)) if raw else np.linspace(0, 1, 10)
    return [motion.motion_levels(r, edges) for r in raw]


def render_sheet(
    analysis: SongAnalysis,
    shots: list[Shot],
    out_png: str | os.PathLike,
    *,
    motion_levels: list[np.ndarray] | None = None,
    labels: list[str] | None = None,
    width_px: int = 1600,
    title: str | None = None,
) -> Path:
    """A printable choreography sheet (PNG): the song's timeline and one cell per segment.

    Header: title, tempo/duration/segments, and the whole song as a timeline - the beat grid,
    the song's loudness level per beat (grey bars) and the chosen moves' motion level per beat
    (coloured line, one colour per clip) with the segment boundaries numbered. Cells: segment
    number and time, the move (label, default the shot's label) drawn as the mannequin at the
    segment's middle beat, and the counts 1..8 with loudness and motion levels (0-10) side by side.
    ``motion_levels`` defaults to levels measured from the chosen poses, relative to this sheet.
    The size is :func:`sheet_size` ``(width_px, len(analysis.segments))``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    segs = analysis.segments
    n = len(segs)
    if len(shots) != n:
        raise ValueError(f"{len(shots)} shots for {n} segments")
    if motion_levels is None:
        motion_levels = _motion_fallback(shots)
    labels = labels if labels is not None else [s.label for s in shots]
    W, Hpx = sheet_size(width_px, n)
    dpi = 100
    u = width_px / 1600.0  # font scale
    fig = Figure(figsize=(W / dpi, Hpx / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    per_row = _per_row(width_px, n)
    rows = math.ceil(n / per_row)
    header, footer = round(0.2 * width_px), round(0.035 * width_px)
    cell_w, cell_h = width_px / per_row, round(1.6 * width_px / per_row)

    def axes_px(x, y, w, h):  # pixels from the top-left -> figure fractions
        return fig.add_axes([x / W, 1.0 - (y + h) / Hpx, w / W, h / Hpx])

    clip_names = sorted({lab or "" for lab in labels})
    cmap = matplotlib.colormaps["tab10"]
    colour_of = {name: cmap(i % 10) for i, name in enumerate(clip_names)}
    loud_colour, ink = "#b8c0cc", "#1f2430"

    # title
    fig.text(24 / W, 1 - 22 * u / Hpx, title or "Choreography sheet", fontsize=22 * u, weight="bold",
             color=ink, va="top")
    sub = (f"{analysis.tempo:.0f} BPM  ·  {analysis.duration:.1f} s  ·  {n} segments of "
           f"{analysis.beats_per_segment} beats  ·  {len(analysis.beats)} beats")
    fig.text(24 / W, 1 - 62 * u / Hpx, sub, fontsize=12 * u, color="#555b66", va="top")

    # whole-song timeline
    ax = axes_px(60 * u, 0.085 * width_px, W - 90 * u, 0.09 * width_px)
    beats = np.asarray(analysis.beats, dtype=float)
    loud = np.concatenate([np.asarray(s.loudness_levels, float) for s in segs]) if n else np.zeros(0)
    seg_beats = np.concatenate([s.beats for s in segs]) if n else np.zeros(0)
    widths = np.diff(np.append(seg_beats, analysis.duration)) if len(seg_beats) else np.zeros(0)
    ax.bar(seg_beats, loud, width=widths * 0.85, align="edge", color=loud_colour, label="song loudness")
    for s, shot, lv, lab in zip(segs, shots, motion_levels, labels):
        lv = np.asarray(lv, float)
        k = min(len(lv), len(s.beats))
        if k:
            x = np.append(s.beats[:k], s.end)
            ax.step(x, np.append(lv[:k], lv[k - 1]), where="post", color=colour_of[lab or ""], lw=2.0 * u)
    for s in segs:
        ax.axvline(s.start, color=ink, lw=1.0 * u, alpha=0.8)
        ax.text(s.start + 0.05, 10.6, str(s.index + 1), fontsize=8 * u, color=ink, va="bottom")
    ax.set_xticks(beats, minor=True)
    ax.tick_params(axis="x", which="minor", length=3 * u, color="#9aa0aa")
    ax.set_xlim(0, analysis.duration)
    ax.set_ylim(0, 10)
    ax.set_yticks([0, 5, 10])
    ax.tick_params(labelsize=8 * u)
    ax.set_xlabel("time (s)", fontsize=9 * u)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    # cells (sizes in pixels from the cell's top-left; fonts scale with the cell)
    cu = cell_w / 200.0
    for i, (s, shot, lv, lab) in enumerate(zip(segs, shots, motion_levels, labels)):
        r, c = divmod(i, per_row)
        x0, y0 = c * cell_w, header + r * cell_h
        pad = 0.05 * cell_w
        colour = colour_of[lab or ""]
        frame_ax = axes_px(x0 + pad / 2, y0 + pad / 2, cell_w - pad, cell_h - pad)
        frame_ax.set_xticks([])
        frame_ax.set_yticks([])
        for sp in frame_ax.spines.values():
            sp.set_color("#d5d9e0")
        frame_ax.patch.set_alpha(0.0)
        # title strip: number and time on the clip's colour
        strip = 0.15 * cell_w
        sax = axes_px(x0 + pad / 2, y0 + pad / 2, cell_w - pad, strip)
        sax.set_facecolor(colour)
        sax.set_xticks([])
        sax.set_yticks([])
        for sp in sax.spines.values():
            sp.set_visible(False)
        sax.text(0.04, 0.5, f"{i + 1}", fontsize=15 * cu, weight="bold", color="white", va="center",
                 transform=sax.transAxes)
        sax.text(0.96, 0.5, f"{s.start:.1f}–{s.end:.1f} s", fontsize=9 * cu, color="white", va="center",
                 ha="right", transform=sax.transAxes)
        # thumbnail: the move at the segment's middle beat
        mid = float(s.beats[len(s.beats) // 2]) if len(s.beats) else 0.5 * (s.start + s.end)
        tside = 0.72 * cell_w
        tax = axes_px(x0 + (cell_w - tside) / 2, y0 + 0.19 * cell_w, tside, tside)
        try:
            tax.imshow(_thumbnail(shot, mid))
        except Exception:  # a missing pose file must not lose the whole sheet
            tax.text(0.5, 0.5, "no pose", ha="center", va="center", fontsize=9 * cu)
        tax.axis("off")
        name = lab or ""
        if len(name) > 26:
            name = name[:24] + "…"
        fig.text((x0 + cell_w / 2) / W, 1 - (y0 + 0.93 * cell_w) / Hpx, name, fontsize=9 * cu,
                 color="#333a45", va="center", ha="center")
        # counts: loudness and motion per beat
        bax = axes_px(x0 + 0.14 * cell_w, y0 + 1.03 * cell_w, cell_w * 0.80, 0.40 * cell_w)
        k = len(s.beats)
        xs = np.arange(k)
        ll = np.asarray(s.loudness_levels, float)[:k]
        ml = np.asarray(lv, float)[:k]
        bw = 0.4
        bax.bar(xs[: len(ll)] - bw / 2, ll, width=bw, color=loud_colour)
        bax.bar(xs[: len(ml)] + bw / 2, ml, width=bw, color=colour)
        bax.set_ylim(0, 10)
        bax.set_xlim(-0.6, k - 0.4)
        bax.set_xticks(xs)
        bax.set_xticklabels([str(j % analysis.beats_per_segment + 1) for j in xs],
                            fontsize=(7.5 if k <= 8 else 6) * cu)
        bax.set_yticks([0, 5, 10])
        bax.tick_params(axis="y", labelsize=6.5 * cu, length=2 * cu)
        bax.tick_params(axis="x", length=0, pad=2 * cu)
        bax.grid(axis="y", color="#eceef2", lw=0.8 * cu)
        bax.set_axisbelow(True)
        for side in ("top", "right"):
            bax.spines[side].set_visible(False)

    # legend
    from matplotlib.patches import Patch

    ly = footer * 0.5 / Hpx
    fig.legend(handles=[Patch(color=loud_colour, label="song loudness per beat (0–10)"),
                        Patch(color=cmap(0), label="motion of the chosen move per beat (0–10); colour = clip")],
               loc="center left", bbox_to_anchor=(12 / W, ly), ncol=2, frameon=False, fontsize=10 * u,
               handlelength=1.2 * max(u, 0.6), columnspacing=2.0)
    fig.text((W - 24) / W, ly, "counts under each move: the beats of its segment", fontsize=9 * u,
             va="center", ha="right", color="#6b7280")

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi, facecolor="white")
    return out_png
