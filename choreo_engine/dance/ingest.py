"""A real dance video into library clips: follow the lead dancer, keep only the dancing.

One pass of MediaPipe over the video (on a crop around the lead dancer when there are several
people, :mod:`.tracking`) gives the poses; :mod:`.stretches` finds where a whole body moves to
music; each stretch becomes its own clip, with its own music, its own segments and its own
normalised video. Like :func:`.library.ingest_video` this is computation plus the video copies:
storing is the caller's job.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ChoreoError, NoPersonError, NotVideoError
from ..music import audio
from . import motion, pose, stretches, tracking
from .library import (MIN_DETECTION_RATE, Credit, IngestedClip, normalise_video, open_dance_video,
                      segment_records)


@dataclass
class RefusedStretch:
    start: float
    end: float
    reason: str


@dataclass
class VideoIngest:
    """What became of one source video: its clips (one per stretch of dancing) and the rest."""

    source_sha256: str
    name: str
    duration: float
    clips: list[IngestedClip]
    refused: list[RefusedStretch] = field(default_factory=list)
    people: int = 1
    followed_share: float = 1.0  # of the sampled frames, those where the pose is the lead's
    frames: int = 0

    @property
    def kept_seconds(self) -> float:
        return sum(c.duration for c in self.clips)

    @property
    def kept_share(self) -> float:
        return self.kept_seconds / self.duration if self.duration else 0.0


def stretch_name(name: str, stretch: stretches.Stretch, whole: bool) -> str:
    if whole:
        return name
    return f"{name} [{int(stretch.start // 60)}:{stretch.start % 60:04.1f}-{int(stretch.end // 60)}:{stretch.end % 60:04.1f}]"


def _estimate(path: Path, lead: tracking.LeadDancer, progress, pose_stride: int) -> pose.PoseTrack:
    frames, fps, _, size = pose.read_frames(path)
    if lead.crop is None:
        return pose.estimate_frames(frames, fps, size, progress, pose_stride)
    track = pose.estimate_frames(tracking.crop_frames(frames, lead.crop), fps, size, progress, pose_stride)
    return pose.PoseTrack(tracking.uncrop_poses(track.poses, lead.crop), track.fps, track.detected, size)


def ingest_dancing(
    path: str | os.PathLike,
    video_dir: str | os.PathLike | None = None,
    descriptor: str = "default",
    style: str | None = None,
    credit: Credit | None = None,
    progress: Callable[[int], None] | None = None,
    pose_stride: int = 1,
    follow_lead: bool = True,
) -> VideoIngest:
    """The stretches of a dance video where the (lead) dancer dances, as library clips.

    A stretch where the pose followed is not always the lead's is refused (``refused``, with
    the reason). Raises NotVideoError, NoAudioTrackError, NoPersonError (no stretch of dancing).
    """
    path = Path(path)
    sha, video, y = open_dance_video(path)
    duration = len(y) / audio.SAMPLE_RATE

    lead = tracking.find_lead(path) if follow_lead else tracking.LeadDancer([], None, None)
    track = _estimate(path, lead, progress, pose_stride)
    fps, n = video.fps, len(track.poses)
    if n == 0:
        raise NotVideoError()
    if track.detection_rate < MIN_DETECTION_RATE * 0.2:  # hardly anyone anywhere: not a dance video
        raise NoPersonError()
    poses = pose.interpolate_gaps(track.poses, fps, max(pose.MAX_GAP_SECONDS, 1.5 * pose_stride / fps))
    followed = tracking.followed_share(poses, fps, lead)[0] if lead.crop is not None else 1.0
    aspect = video.width / video.height
    norm = pose.normalize(poses, aspect=aspect)
    raw = track.poses if pose_stride == 1 else poses  # with a stride, the gaps are no absence
    mask = stretches.dancing_frames(raw, motion.joint_speed(norm, fps),
                                    stretches.frame_loudness_db(y, audio.SAMPLE_RATE, fps, n), fps)
    found = stretches.find_stretches(mask, fps)
    if not found:
        raise NoPersonError()

    result = VideoIngest(sha, path.name, duration, [], people=max(1, lead.people), followed_share=followed, frames=n)
    for stretch in found:
        whole = stretch.start <= 1.0 / fps and stretch.end >= min(duration, n / fps) - 1.0 / fps
        a, b = int(round(stretch.start * fps)), min(n, int(round(stretch.end * fps)))
        y_part = y[int(stretch.start * audio.SAMPLE_RATE): int(stretch.end * audio.SAMPLE_RATE)]
        try:
            if lead.crop is not None:  # a stretch where the pose left the lead for someone else is refused
                tracking.check_follows_lead(poses, fps, lead, stretch.start, stretch.end)
            analysis = audio.analyze(y_part)
            records = segment_records(y_part, analysis, norm[a:b], fps, descriptor)
        except ChoreoError as exc:
            result.refused.append(RefusedStretch(stretch.start, stretch.end, exc.message))
            continue
        if not records:
            result.refused.append(RefusedStretch(stretch.start, stretch.end, "too short for one segment"))
            continue
        clip_sha = sha if whole else hashlib.sha256(f"{sha}:{stretch.start:.3f}-{stretch.end:.3f}".encode()).hexdigest()
        video_path = None
        if video_dir is not None:
            video_path = Path(video_dir) / f"{clip_sha}.mp4"
            video_path.parent.mkdir(parents=True, exist_ok=True)
            if not video_path.exists():
                normalise_video(path, video_path, start=None if whole else stretch.start,
                                end=None if whole else stretch.end)
        detected = ~np.isnan(track.poses[a:b:pose_stride, 0, 0])
        result.clips.append(IngestedClip(
            source_sha256=clip_sha, name=stretch_name(path.name, stretch, whole),
            duration=len(y_part) / audio.SAMPLE_RATE, fps=fps, width=video.width, height=video.height,
            tempo=analysis.tempo, poses=poses[a:b].astype(np.float32), pose_source="mediapipe",
            detection_rate=float(detected.mean()) if len(detected) else 0.0, segments=records, style=style,
            video_path=video_path, credit=credit or Credit(source=path.name), origin_sha256=sha,
            origin_start=None if whole else stretch.start, origin_end=None if whole else stretch.end,
        ))
    return result
