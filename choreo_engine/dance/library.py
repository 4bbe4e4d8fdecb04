"""The dance library: what Choreo choreographs from (pipeline step 4's first half).

:func:`ingest_video` turns a dance video into library segments - music descriptor, loudness
levels, per-beat motion size, start/end pose and velocity, and the source time range - plus the
clip's pose array. It is pure computation (plus a normalised copy of the video): storing the
result is the caller's job, so one path serves real videos and the procedural starter library.

:class:`Library` is the in-memory form the planner works on: one row per segment, with the
arrays it needs stacked.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import ffmpeg
from ..music import audio, features
from . import motion, pose
from ..errors import FFmpegTimeoutError, NoAudioTrackError, NoPersonError, NotAudioError, NotVideoError

# A clip is refused when MediaPipe finds a pose in fewer than this share of its frames.
MIN_DETECTION_RATE = 0.5
# ... or when fewer than this share of the posed frames show a full body.
MIN_FULL_BODY_RATE = 0.3
# Library videos are kept as H.264 at most this tall (fast to seek and to scale when rendering).
LIBRARY_VIDEO_HEIGHT = 480


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@dataclass
class SegmentRecord:
    """One library segment as stored (times are seconds in the clip)."""

    index: int
    start: float
    end: float
    beats: np.ndarray
    tempo: float
    descriptor: np.ndarray
    loudness_levels: np.ndarray
    motion_size: np.ndarray  # per beat, torso lengths per second
    start_pose: np.ndarray  # (J, 2)
    start_velocity: np.ndarray
    end_pose: np.ndarray
    end_velocity: np.ndarray
    music_start: float | None = None  # where the descriptor's range starts (the first one includes the lead-in)


@dataclass
class Credit:
    """Where a clip came from, for the credits: a URL or file name, who made or performs it,
    under which licence, and when (as the source says; free text)."""

    source: str | None = None
    performer: str | None = None
    licence: str | None = None
    date: str | None = None

    def line(self) -> str:
        """One credits line: performer, source, licence, date (what is known)."""
        parts = [p for p in (self.performer, self.source, self.licence, self.date) if p]
        return " · ".join(parts)


@dataclass
class IngestedClip:
    source_sha256: str
    name: str
    duration: float
    fps: float
    width: int
    height: int
    tempo: float
    poses: np.ndarray  # (T, 33, 4) image-normalised, gaps interpolated
    pose_source: str  # "mediapipe" or "generator"
    detection_rate: float
    segments: list[SegmentRecord]
    style: str | None = None
    video_path: Path | None = None  # the normalised copy, when one was written
    credit: Credit = field(default_factory=Credit)
    style_guessed: bool = False
    # the source file's hash and the stretch of it this clip is (None: the whole file)
    origin_sha256: str | None = None
    origin_start: float | None = None
    origin_end: float | None = None

    @property
    def poses_sha256(self) -> str:
        return array_sha256(self.poses)


def probe_video(path: str | os.PathLike) -> ffmpeg.VideoInfo:
    """A dance video's size, rate and length; NotVideoError when it has no readable frames or is a still."""
    info = ffmpeg.probe_video(path)
    if 0 <= info.frames <= 1:
        raise NotVideoError("This is a still image, not a video.")
    return info


def normalise_video(src: str | os.PathLike, dst: str | os.PathLike, max_height: int = LIBRARY_VIDEO_HEIGHT,
                    start: float | None = None, end: float | None = None) -> None:
    """Copy a video (from ``start`` to ``end`` seconds, when given) as H.264, at most
    ``max_height`` tall, keyframe every second.

    Its music is kept as small mono AAC: renders never play it, but the segments can be
    described again from it when the descriptor changes (bot.admin.library.StoredLibrary.refresh_descriptors).
    """
    tmp = Path(str(dst) + ".part.mp4")
    # encoding time grows with the source's length (from its header; None: unknown)
    seconds = ffmpeg.probe_duration(src)
    window = []
    if start is not None:
        window += ["-ss", f"{start:.3f}"]
    if end is not None:
        window += ["-t", f"{end - (start or 0.0):.3f}"]
    args = [
        "-nostdin", "-v", "error", "-y", *window, *ffmpeg.media_input(src, ffmpeg.sniff_demuxer(src)),
        "-map", "0:v:0", "-map", "0:a:0?", "-c:a", "aac", "-b:a", "64k", "-ac", "1",
        "-vf", f"scale=-2:'min({max_height},ih)'", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-pix_fmt", "yuv420p", "-g", "25", str(tmp),
    ]
    try:
        proc = ffmpeg.run(args, timeout=ffmpeg.timeout_for(seconds))
    except FFmpegTimeoutError:
        tmp.unlink(missing_ok=True)
        raise
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise NotVideoError()
    os.replace(tmp, dst)


def segment_records(
    y: np.ndarray,
    analysis: audio.SongAnalysis,
    norm_poses: np.ndarray,
    fps: float,
    descriptor: str = "default",
) -> list[SegmentRecord]:
    """Per segment: descriptor, loudness, motion size per beat, boundary poses and velocities."""
    frames = features.song_frames(y)
    speed = motion.joint_speed(norm_poses, fps)
    n_frames = len(norm_poses)
    records = []
    for seg in analysis.segments:
        first = seg.beats[0]  # the dance segment starts on its first beat, not at 0 (lead-in)
        start_frame = int(round(first * fps))
        end_frame = min(int(round(seg.end * fps)), n_frames - 1)
        if end_frame - start_frame < 2:
            continue
        start = motion.boundary(norm_poses, fps, start_frame, at_end=False)
        end = motion.boundary(norm_poses, fps, end_frame, at_end=True)
        records.append(
            SegmentRecord(
                index=len(records),
                start=float(first),
                end=float(seg.end),
                beats=seg.beats.astype(float),
                tempo=seg.tempo,
                descriptor=features.describe_segment(frames, seg.start, seg.end, seg.beats, descriptor),
                loudness_levels=seg.loudness_levels.astype(int),
                motion_size=motion.per_beat_motion(speed, fps, seg.beats, seg.end),
                start_pose=start.pose,
                start_velocity=start.velocity,
                end_pose=end.pose,
                end_velocity=end.velocity,
                music_start=float(seg.start),
            )
        )
    return records


def describe_stored_segments(
    video_path: str | os.PathLike, ranges: list[tuple[float, float, np.ndarray]], kind: str = "default"
) -> np.ndarray:
    """Descriptors of a stored library video's segments ``(start, end, beats)``, from its audio track."""
    y = audio.decode(video_path, max_seconds=None)
    frames = features.song_frames(y)
    return np.stack([features.describe_segment(frames, s, e, b, kind) for s, e, b in ranges])



def open_dance_video(path: Path):
    """(sha256, video probe, its sound decoded) of a dance video; a video without sound raises
    NoAudioTrackError, an empty or missing file NotVideoError."""
    if not path.exists() or path.stat().st_size == 0:
        raise NotVideoError()
    sha = file_sha256(path)
    video = probe_video(path)
    try:
        y = audio.decode(path, max_seconds=None)
    except NoAudioTrackError:
        raise
    except NotAudioError as exc:
        raise NoAudioTrackError() from exc
    return sha, video, y

def ingest_video(
    path: str | os.PathLike,
    video_dir: str | os.PathLike | None = None,
    descriptor: str = "default",
    generator_poses: np.ndarray | None = None,
    style: str | None = None,
    progress: Callable[[int], None] | None = None,
    pose_stride: int = 1,
    move_video: bool = False,
) -> IngestedClip:
    """Analyse a dance video with music into library segments.

    ``generator_poses`` (procedural clips only) are the poses the figure was drawn from; they
    are stored instead of MediaPipe's when MediaPipe does not detect the figure reliably.
    When ``video_dir`` is given, a normalised copy is written there as ``<sha256>.mp4``
    (``move_video``: the file is already H.264 at library size, made by us; move it instead).
    ``pose_stride`` estimates every n-th frame and interpolates the rest.

    Raises NotVideoError, NoAudioTrackError, NotAudioError, NoPersonError, TooShortError, ...
    """
    path = Path(path)
    sha, video, y = open_dance_video(path)
    fps, width, height = video.fps, video.width, video.height
    analysis = audio.analyze(y)

    track = pose.estimate_video(path, progress, pose_stride)
    if len(track.poses) == 0:
        raise NotVideoError()
    pose_source = "mediapipe"
    rate = track.detection_rate
    posed = track.poses[~np.isnan(track.poses[:, 0, 0])]
    full = np.mean([pose.has_full_body(p) for p in posed]) if len(posed) else 0.0
    if generator_poses is not None and (rate < 0.95 or full < 0.9):
        poses = generator_poses[: len(track.poses)].astype(np.float32)
        pose_source = "generator"
    else:
        if rate < MIN_DETECTION_RATE or full < MIN_FULL_BODY_RATE:
            raise NoPersonError()
        poses = pose.interpolate_gaps(track.poses, fps, max(pose.MAX_GAP_SECONDS, 1.5 * pose_stride / fps))
    norm = pose.normalize(poses, aspect=width / height)
    records = segment_records(y, analysis, norm, fps, descriptor)
    if not records:
        raise NoPersonError()

    video_path = None
    if video_dir is not None:
        video_path = Path(video_dir) / f"{sha}.mp4"
        video_path.parent.mkdir(parents=True, exist_ok=True)
        if move_video:
            os.replace(path, video_path)
        elif not video_path.exists():
            normalise_video(path, video_path)
    return IngestedClip(
        source_sha256=sha,
        name=path.name,
        duration=len(y) / audio.SAMPLE_RATE,
        fps=fps,
        width=width,
        height=height,
        tempo=analysis.tempo,
        poses=poses.astype(np.float32),
        pose_source=pose_source,
        detection_rate=rate,
        segments=records,
        style=style,
        video_path=video_path,
    )


# --------------------------------------------------------------------------- in memory


@dataclass
class LibrarySegment:
    id: int
    clip_id: int
    clip_name: str
    index: int
    start: float
    end: float
    beats: np.ndarray
    tempo: float
    loudness_levels: np.ndarray
    motion_levels: np.ndarray
    video_path: str
    poses_path: str
    fps: float
    aspect: float = 1.0  # the clip's width / height (poses are image-normalised)
    style: str | None = None
    # where the clip came from (see Credit)
    source: str | None = None
    performer: str | None = None
    licence: str | None = None
    source_date: str | None = None

    @property
    def credit(self) -> str | None:
        """The clip's credits line (None for clips without a source: the starter library's)."""
        return Credit(self.source, self.performer, self.licence, self.source_date).line() or None


@dataclass
class Library:
    """Every library segment with the arrays the planner scores on, row-aligned."""

    segments: list[LibrarySegment]
    descriptors: np.ndarray  # (N, D)
    start_poses: np.ndarray  # (N, J, 2)
    start_velocities: np.ndarray
    end_poses: np.ndarray
    end_velocities: np.ndarray
    _positions: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._positions = {s.id: i for i, s in enumerate(self.segments)}

    def __len__(self) -> int:
        return len(self.segments)

    def position(self, segment_id: int) -> int:
        return self._positions[segment_id]

    def has(self, segment_id: int) -> bool:
        return segment_id in self._positions

    @property
    def tempos(self) -> np.ndarray:
        """Each segment's tempo."""
        return np.array([s.tempo for s in self.segments])

    @property
    def clip_ids(self) -> np.ndarray:
        return np.array([s.clip_id for s in self.segments])

    def motion_matrix(self, n_beats: int = 8) -> np.ndarray:
        """(N, n_beats) motion levels, each row padded by repeating its last beat."""
        return _pad_rows([s.motion_levels for s in self.segments], n_beats)


def _pad_rows(rows: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros((len(rows), n))
    for i, r in enumerate(rows):
        r = np.asarray(r, dtype=float)[:n]
        out[i, : len(r)] = r
        if 0 < len(r) < n:
            out[i, len(r) :] = r[-1]
    return out


def load_poses(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    with np.load(path) as data:
        return data["poses"], float(data["fps"])


def save_poses(directory: str | os.PathLike, poses: np.ndarray, fps: float) -> Path:
    """Write ``poses`` as ``<content sha256>.npz`` (atomically); return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{array_sha256(poses)}.npz"
    if not path.exists():
        tmp = path.with_suffix(".part.npz")
        np.savez_compressed(tmp, poses=poses.astype(np.float32), fps=np.float32(fps))
        os.replace(tmp, path)
    return path
