"""The one place that finds ffmpeg, probes media and runs ffmpeg.

The binary is the one imageio-ffmpeg ships (no system ffmpeg is assumed). Every run has a
timeout: :func:`run` for a command that reads and writes files, :func:`pipe_frames` for raw
frames fed through stdin (a watchdog kills ffmpeg at its deadline, even while a write blocks).
A run that outlives its timeout is killed and raises :class:`FFmpegTimeoutError`.

Probing: :func:`probe_duration` (any media, from its header: cheap, no decoding),
:func:`probe_video` (a video's frame size, rate, length and pixel aspect, by OpenCV, which
decodes with its own bundled FFmpeg libraries) and :func:`has_video_stream`.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

import numpy as np

from .errors import EncodeError, FFmpegError, FFmpegTimeoutError, NotVideoError

__all__ = [
    "VideoInfo",
    "ffmpeg_exe",
    "has_video_stream",
    "pipe_frames",
    "probe_duration",
    "probe_video",
    "run",
    "timeout_for",
]

# Timeouts. A run is only called stuck far beyond what the work should take: on this 2-core
# machine, shared with other work, encoding 720p runs at ~7-10x real time and decoding sound at
# well over 100x, so the allowance per media second below is 10-20x what a run needs, and the
# base covers process start-up, container setup and a machine that is briefly swamped.
BASE_TIMEOUT = 60.0
# Seconds allowed per second of media, for work that decodes or encodes pictures (the longer
# the media, the longer the run).
ENCODE_SECONDS_PER_SECOND = 2.0
# ... for work that only decodes or encodes sound.
AUDIO_SECONDS_PER_SECOND = 0.5
# The media length assumed when a caller cannot know it (an hour: longer than any song or
# dance clip Choreo accepts).
UNKNOWN_MEDIA_SECONDS = 3600.0
# Reading a header (``ffmpeg -i``) decodes nothing.
PROBE_TIMEOUT = 30.0


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg (no system ffmpeg is assumed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def timeout_for(media_seconds: float | None, per_second: float = ENCODE_SECONDS_PER_SECOND) -> float:
    """Seconds a run over ``media_seconds`` of media may take (unknown length: an hour's worth)."""
    seconds = UNKNOWN_MEDIA_SECONDS if media_seconds is None else max(0.0, float(media_seconds))
    return BASE_TIMEOUT + per_second * seconds


def _command(args: Iterable[str]) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", *map(str, args)]


def run(args: Iterable[str], *, timeout: float, check: bool = False, text: bool = False) -> subprocess.CompletedProcess:
    """``ffmpeg -hide_banner *args`` with stdout and stderr captured, killed after ``timeout`` seconds.

    Returns the finished process (the caller reads its return code), or with ``check`` raises
    :class:`FFmpegError` when it fails. Raises :class:`FFmpegTimeoutError` when it runs too long.
    """
    cmd = _command(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, text=text,
                              errors="replace" if text else None)
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        raise FFmpegTimeoutError(seconds=timeout) from None
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
        raise FFmpegError(f"ffmpeg failed ({proc.returncode}): {err.strip()[-1500:]}")
    return proc


# --------------------------------------------------------------------------- probing


def _header(path: str | os.PathLike) -> str:
    """ffmpeg's description of a file's container and streams (its stderr for ``-i`` alone)."""
    return run(["-i", str(path)], timeout=PROBE_TIMEOUT, text=True).stderr


def probe_duration(path: str | os.PathLike) -> float | None:
    """Duration in seconds from the container header, or None when unknown.

    Cheap (no decoding), so a too-long song is refused before any work is spent on it. Sound
    files soundfile reads give their exact sample count; anything else ffmpeg's header.
    """
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate
    except Exception:
        pass
    match = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", _header(path))
    if not match:
        return None
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def has_video_stream(path: str | os.PathLike) -> bool:
    return "Video:" in _header(path)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float  # seconds (frame count / average fps)
    sar: float = 1.0  # sample aspect ratio
    frames: int = 0  # frame count from the container (<= 0: unknown)

    @property
    def aspect(self) -> float:
        return self.width * self.sar / self.height


@lru_cache(maxsize=256)
def _probe_video(path: str, _mtime_ns: int, _size: int) -> VideoInfo:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        # one frame decoded proves the file is a video OpenCV can read, not just a header
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise NotVideoError()
        h, w = frame.shape[:2]
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        num, den = cap.get(cv2.CAP_PROP_SAR_NUM), cap.get(cv2.CAP_PROP_SAR_DEN)
        sar = num / den if num > 0 and den > 0 else 1.0
        return VideoInfo(int(w), int(h), float(fps), float(count / fps) if count > 0 else 0.0, float(sar),
                         int(count))
    finally:
        cap.release()


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame size, rate, length and pixel aspect of a video (cached while the file is unchanged).

    Raises NotVideoError when it has no readable frame.
    """
    path = str(path)
    st = os.stat(path)
    return _probe_video(path, st.st_mtime_ns, st.st_size)


# --------------------------------------------------------------------------- the frame pipe


def pipe_frames(args: Iterable[str], frames: Iterable[np.ndarray], to_bytes: Callable[[np.ndarray], bytes | memoryview],
                n_frames: int | None = None, progress: Callable[[float], None] | None = None, *,
                timeout: float) -> int:
    """Write ``to_bytes(frame)`` for each frame (at most ``n_frames``) to the stdin of ``ffmpeg *args``.

    Returns the number of frames written. Raises EncodeError when ffmpeg fails or, with
    ``n_frames``, when fewer frames came; FFmpegTimeoutError when making and encoding the frames
    takes over ``timeout`` seconds (ffmpeg is killed then, even in the middle of a write); an
    error while producing the frames kills ffmpeg and is raised as it is. A caller that must
    not leave a partial file behind writes to a temporary path and removes it on error.
    """
    written = 0
    step = max(1, (n_frames or 100) // 100)
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(_command(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None

        def expire() -> None:
            timed_out.set()
            proc.kill()

        # a timer, not a check between frames: a write blocks for as long as ffmpeg does not read
        watchdog = threading.Timer(timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                for frame in frames:
                    if n_frames is not None and written >= n_frames:
                        break
                    proc.stdin.write(to_bytes(frame))
                    written += 1
                    if progress is not None and n_frames and written % step == 0:
                        progress(min(written / n_frames, 1.0))
            except BrokenPipeError:
                pass  # ffmpeg stopped early (or was killed at the deadline); its exit code tells why
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            rc = proc.wait()
        finally:
            watchdog.cancel()
        if timed_out.is_set() and rc != 0:  # (a run that ended just as the timer fired stands)
            raise FFmpegTimeoutError(seconds=timeout)
        if rc != 0 or (n_frames is not None and written < n_frames):
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip()
            expected = f"/{n_frames}" if n_frames is not None else ""
            raise EncodeError(f"ffmpeg failed ({rc}, {written}{expected} frames): {msg[-1500:]}")
    return written
