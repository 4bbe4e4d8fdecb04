"""Reading the dance clips and fitting their frames: the picture side of the clip mode.

Video takes the source frame whose presentation time is nearest the shot's clip time (read by
timestamp, not by index: OpenCV's index seeks are off by one frame on clips whose first
timestamps are irregular). :func:`clip_frames` is the cross-edit of the final video; previews
tile :class:`ShotFrames` themselves.

Frames and sizes
----------------
Clips are scaled into a common frame keeping their display aspect; the rest of the frame is
filled with a blurred, darkened copy of the same picture (``fill="blur"``) or black. The frame's
aspect is, unless given, the sources' median aspect snapped to 16:9, 4:3, 1:1, 3:4 or 9:16
(:func:`auto_aspect`), and the frame's shorter side is its height setting
(:func:`frame_size`: 720 -> 1280x720, 720x720 or 720x1280).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from ..errors import RenderError
from .shots import Shot, VideoInfo, segment_at, video_info

__all__ = [
    "ASPECTS",
    "BLEND_FRAMES",
    "ShotFrames",
    "auto_aspect",
    "clip_frames",
    "cut_plan",
    "even",
    "frame_size",
    "planned_frames",
    "snap_aspect",
    "source_frame_times",
]

# Aspect ratios the output frame snaps to (width / height).
ASPECTS = (16 / 9, 4 / 3, 1.0, 3 / 4, 9 / 16)
# Cross-dissolve between two clips at a cut, in output frames (centred on the beat).
BLEND_FRAMES = 3
# When filling the frame needs at most this much zoom (4.5 %), crop the edges rather than pad.
COVER_TOLERANCE = 1.045


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


def even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def frame_size(short_side: int, aspect: float) -> tuple[int, int]:
    """(width, height), both even, with ``short_side`` the shorter of the two."""
    if aspect >= 1.0:
        return even(short_side * aspect), even(short_side)
    return even(short_side), even(short_side / aspect)


def auto_aspect(shots: Sequence[Shot]) -> float:
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


class ShotFrames:
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


def cut_plan(starts: Sequence[float], ends: Sequence[float], times: np.ndarray,
             blend: float) -> list[tuple[float, int, int, float]]:
    """What the frame at each song time shows: ``(t, shot, partner, a)``: shot ``shot`` alone
    (``partner`` -1) or, within ``blend`` seconds centred on a cut, the dissolve of the shot and
    its neighbour ``partner`` across the cut, ``(1 - a) * earlier + a * later``.
    ``starts``/``ends``: the shots' song segments, in order."""
    n = len(starts)
    sched = segment_at(starts, times)
    plan = []
    for k, t in enumerate(np.asarray(times, dtype=float)):
        i = int(sched[k])
        if blend > 0 and i > 0 and t < starts[i] + blend / 2:
            plan.append((float(t), i, i - 1, (t - starts[i]) / blend + 0.5))
        elif blend > 0 and i < n - 1 and t >= ends[i] - blend / 2:
            plan.append((float(t), i, i + 1, (t - ends[i]) / blend + 0.5))
        else:
            plan.append((float(t), i, -1, 0.0))
    return plan


def planned_frames(shots: Sequence[Shot] | Mapping[int, Shot], plan: Iterable[tuple[float, int, int, float]],
                   W: int, H: int, fill: str) -> Iterator[np.ndarray]:
    """The frames of a :func:`cut_plan`; ``shots`` by index (only the shots the plan shows are read)."""
    source = ShotFrames(shots, W, H, fill)
    try:
        for t, i, partner, a in plan:
            img = source.get(i, t)
            if partner >= 0:
                other = source.get(partner, t)
                earlier, later = (other, img) if partner < i else (img, other)
                img = cv2.addWeighted(earlier, 1.0 - a, later, a, 0.0)
            yield img
    finally:
        source.close()


def clip_frames(shots: Sequence[Shot], times: np.ndarray, W: int, H: int, blend_frames: int, fps: float,
                 fill: str) -> Iterator[np.ndarray]:
    """The cross-edit: each shot on its song segment, a dissolve of ``blend_frames`` centred on each cut."""
    plan = cut_plan([s.dst_start for s in shots], [s.dst_end for s in shots], times, blend_frames / fps)
    return planned_frames(shots, plan, W, H, fill)
