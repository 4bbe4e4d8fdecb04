"""The one place that finds ffmpeg, probes media and runs ffmpeg.

The binary is the one imageio-ffmpeg ships (no system ffmpeg is assumed). Every run has a
timeout: :func:`run` for a command that reads and writes files, :func:`pipe_frames` for raw
frames fed through stdin (a watchdog kills ffmpeg at its deadline, even while a write blocks).
A run that outlives its timeout is killed and raises :class:`FFmpegTimeoutError`.

Media from outside (a song a user sent, a dance video an admin added) is read through
:func:`media_input` only: local files, and only the demuxers of self-contained audio and video
files (:data:`ACCEPTED_DEMUXERS`), the one the file's first bytes name given explicitly with
``-f``. A playlist, concat list, manifest, image or archive posing as audio never reaches a
demuxer that would open what it names. :func:`probe_media` reads the container's header that
way; :func:`decode_sound` decodes its sound to mono at one rate through a pipe, counting the
samples and stopping past a cap, so memory is bounded whatever the channels, rate or header say.

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
    "ACCEPTED_DEMUXERS",
    "DecodedSound",
    "MediaProbe",
    "VideoInfo",
    "decode_sound",
    "ffmpeg_exe",
    "has_video_stream",
    "media_input",
    "pipe_frames",
    "probe_duration",
    "probe_media",
    "probe_video",
    "run",
    "sniff_demuxer",
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
# Decoded sound is read from ffmpeg's pipe this much at a time.
READ_BYTES = 1 << 20


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


class _Deadline:
    """Kills a process at its deadline: a timer, not a check between reads or writes, since a
    read or write blocks for as long as ffmpeg does not produce or consume."""

    def __init__(self, proc: subprocess.Popen, timeout: float) -> None:
        self.proc = proc
        self.expired = False
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        self.proc.kill()

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


# --------------------------------------------------------------------------- media from outside

# Local files and pipes only: no URL named inside a file is ever opened.
PROTOCOLS = "file,pipe"
# The demuxers of self-contained audio and video files. Never hls, dash, concat, playlists
# (m3u, pls...), image sequences, archives or scripts (avisynth...): each opens what it names.
# (mov's references to other files, "drefs", stay off, as is ffmpeg's default.)
ACCEPTED_DEMUXERS = ("mp3", "aac", "ogg", "flac", "wav", "w64", "aiff", "caf", "amr", "asf",
                     "mov", "matroska", "avi", "flv", "mpeg", "mpegts")
# Enough of a file's start to tell its container (an MPEG-TS needs two packets of 188 bytes).
SNIFF_BYTES = 512
_W64 = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_ASF = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"
_MOV_ATOMS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def _container_of(head: bytes) -> str | None:
    """The demuxer a file's first bytes (past any ID3 tag) name, or None."""
    four = head[:4]
    if four == b"fLaC":
        return "flac"
    if four == b"OggS":
        return "ogg"
    if four in (b"RIFF", b"RIFX", b"RF64", b"BW64"):
        return {b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12])
    if head[:16] == _W64:
        return "w64"
    if four == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if four == b"caff":
        return "caf"
    if head[4:8] in _MOV_ATOMS:
        return "mov"
    if four == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:16] == _ASF:
        return "asf"
    if head[:3] == b"FLV":
        return "flv"
    if four == b"\x00\x00\x01\xba":
        return "mpeg"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame's sync
        layer = (head[1] >> 1) & 3
        if layer == 0:
            return "aac" if head[1] & 0xF0 == 0xF0 else None  # ADTS
        return "mp3"
    return None


def sniff_demuxer(path: str | os.PathLike) -> str | None:
    """The accepted demuxer for a file, from its magic bytes (None: not a container we read).

    ID3v2 tags in front (of any size) are skipped; a tag followed by what is not a known
    container is read as MP3, whose demuxer finds the first frame past padding or junk.
    """
    with open(path, "rb") as fh:
        start, tagged = 0, False
        while True:
            fh.seek(start)
            tag = fh.read(10)
            if len(tag) < 10 or tag[:3] != b"ID3" or any(b >= 0x80 for b in tag[6:10]):
                break
            size = (tag[6] << 21) | (tag[7] << 14) | (tag[8] << 7) | tag[9]
            start += 10 + size + (10 if tag[5] & 0x10 else 0)  # header, body, footer
            tagged = True
        fh.seek(start)
        demuxer = _container_of(fh.read(SNIFF_BYTES))
    return demuxer or ("mp3" if tagged else None)


def media_input(path: str | os.PathLike, demuxer: str | None = None) -> list[str]:
    """ffmpeg's input options for a file from outside: local files and accepted demuxers only.

    ``demuxer`` (from :func:`sniff_demuxer`) is passed with ``-f``; without it ffmpeg still
    detects the format among the accepted ones only.
    """
    forced = ["-f", demuxer] if demuxer else []
    return ["-protocol_whitelist", PROTOCOLS, "-format_whitelist", ",".join(ACCEPTED_DEMUXERS), *forced,
            "-i", str(path)]


_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Audio|Video|Data|Subtitle|Attachment):", re.MULTILINE)
_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class MediaProbe:
    """A file's container and streams, as its header says (nothing decoded)."""

    demuxer: str | None  # from its magic bytes; None: not a container we read
    opened: bool = False  # ffmpeg opened it with that demuxer
    audio: bool = False
    video: bool = False  # (cover art in an audio file counts)
    duration: float | None = None  # the header's claim, not a measurement


def _header(path: str | os.PathLike, demuxer: str | None = None) -> str:
    """ffmpeg's description of a file's container and streams (its stderr for ``-i`` alone)."""
    return run(media_input(path, demuxer), timeout=PROBE_TIMEOUT, text=True).stderr


def _header_duration(header: str) -> float | None:
    match = _DURATION.search(header)
    if not match:
        return None
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def probe_media(path: str | os.PathLike) -> MediaProbe:
    """Magic bytes first; then, for a container we read, ffmpeg's header read with that demuxer."""
    demuxer = sniff_demuxer(path)
    if demuxer is None:
        return MediaProbe(None)
    header = _header(path, demuxer)
    kinds = set(_STREAM.findall(header))
    return MediaProbe(demuxer, "Input #0" in header, "Audio" in kinds, "Video" in kinds, _header_duration(header))


@dataclass(frozen=True)
class DecodedSound:
    samples: np.ndarray  # mono float32 at the rate asked for
    cut: bool  # there was more than the cap: decoding stopped there
    returncode: int  # ffmpeg's (0 when we stopped it at the cap)
    error: str  # the end of ffmpeg's error output


def decode_sound(path: str | os.PathLike, sample_rate: int, max_seconds: float | None = None, *,
                 demuxer: str | None = None, timeout: float) -> DecodedSound:
    """The first audio stream of a file from outside, as mono float32 at ``sample_rate``.

    ffmpeg mixes down and resamples as it decodes and the samples come through a pipe, so
    memory is the output's (4 bytes per sample, at most ``max_seconds`` of it plus one read)
    whatever the file's channels and rate. The samples are counted, not taken from the header:
    past ``max_seconds`` ffmpeg is stopped and the result is ``cut``.
    """
    args = ["-nostdin", "-v", "error", *media_input(path, demuxer)]
    if max_seconds is not None:  # ffmpeg stops itself just past the cap, by the timestamps...
        args += ["-t", f"{max_seconds + 1:.3f}"]
    args += ["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1"]
    # ... and the samples read are the bound, whatever the timestamps say
    cap = None if max_seconds is None else int(max_seconds * sample_rate) * 4
    out = bytearray()
    cut = False
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(_command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                bufsize=0)
        assert proc.stdout is not None
        with _Deadline(proc, timeout) as deadline:
            try:
                while chunk := proc.stdout.read(READ_BYTES):
                    out += chunk
                    if cap is not None and len(out) > cap:
                        cut = True
                        proc.kill()
                        break
            except BaseException:
                proc.kill()
                raise
            finally:
                proc.stdout.close()
                rc = proc.wait()
        if deadline.expired and rc != 0:
            raise FFmpegTimeoutError(seconds=timeout)
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 2000))
        message = err.read().decode("utf-8", "replace").strip()
    if cut:
        del out[cap:]
    samples = np.frombuffer(out, dtype=np.float32, count=len(out) // 4)
    return DecodedSound(samples, cut, 0 if cut else rc, message)


# --------------------------------------------------------------------------- probing


def probe_duration(path: str | os.PathLike) -> float | None:
    """Duration in seconds from the container header, or None when unknown.

    Cheap (no decoding), but only what the header claims: a song's length is the one decoded
    (choreo_engine.music.audio.decode). Sound files soundfile reads give their sample count;
    anything else ffmpeg's header. None for what is not a container we read at all.
    """
    demuxer = sniff_demuxer(path)
    if demuxer is None:  # (libsndfile finds "MP3" inside a zip archive, for one)
        return None
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate
    except Exception:
        pass
    return _header_duration(_header(path, demuxer))


def has_video_stream(path: str | os.PathLike) -> bool:
    return "Video" in _STREAM.findall(_header(path, sniff_demuxer(path)))


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
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(_command(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        with _Deadline(proc, timeout) as deadline:
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
        if deadline.expired and rc != 0:  # (a run that ended just as the timer fired stands)
            raise FFmpegTimeoutError(seconds=timeout)
        if rc != 0 or (n_frames is not None and written < n_frames):
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip()
            expected = f"/{n_frames}" if n_frames is not None else ""
            raise EncodeError(f"ffmpeg failed ({rc}, {written}{expected} frames): {msg[-1500:]}")
    return written
