"""MediaPipe pose over video frames -> ``(T, 33, 4)`` arrays (pipeline step 4).

Uses the ``solutions`` API of mediapipe 0.10.21 with its bundled model: only
``model_complexity=1`` works offline (0 and 2 try to download a model). Frames are estimated
on a copy whose longer side is at most 640 px, because large frames can miss people that the
same frame downscaled shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

N_LANDMARKS = 33
ESTIMATE_MAX_SIDE = 640
# Gaps of at most this many seconds without a detected pose are interpolated.
MAX_GAP_SECONDS = 0.5
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 11, 12, 23, 24
L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 25, 26, 27, 28
L_HEEL, R_HEEL, L_FOOT_INDEX, R_FOOT_INDEX = 29, 30, 31, 32
# The joints of the feet: ankles, heels and toes.
FEET = (L_ANKLE, R_ANKLE, L_HEEL, R_HEEL, L_FOOT_INDEX, R_FOOT_INDEX)
# The joints that make a "full body": shoulders, hips, knees, ankles.
FULL_BODY = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)
VISIBLE = 0.5


# What MediaPipe's and TFLite's native code print to stderr when a graph starts: harmless, and
# printed by C++ (absl before InitializeLog, which no environment variable silences).
_NATIVE_NOISE = re.compile(
    r"^(W0000 .*(inference_feedback_manager|landmark_projection_calculator)\.cc"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate)"
)


@contextlib.contextmanager
def _native_noise_filtered():
    """Runs the block with file descriptor 2 captured, then passes on every line but known noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not _NATIVE_NOISE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@dataclass
class PoseTrack:
    poses: np.ndarray  # (T, 33, 4) float32, NaN where no pose was found (before interpolation)
    fps: float
    detected: np.ndarray  # (estimated frames,) bool: MediaPipe found a pose in this frame
    size: tuple[int, int]  # (width, height) of the source frames

    @property
    def detection_rate(self) -> float:
        return float(self.detected.mean()) if len(self.detected) else 0.0


def _downscale(frame: np.ndarray, max_side: int = ESTIMATE_MAX_SIDE) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


class PoseEstimator:
    """A MediaPipe Pose instance; ``video=True`` tracks across frames (faster, steadier)."""

    def __init__(self, video: bool = True, model_complexity: int | None = None, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        if model_complexity is None:
            model_complexity = int(os.environ.get("CHOREO_POSE_COMPLEXITY", "1"))
        with _native_noise_filtered():
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=not video,
                model_complexity=model_complexity,
                enable_segmentation=False,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )
        self._started = False  # the graph prints its start-up warnings on the first frame

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pose.close()

    def estimate(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """(33, 4) image-normalised x, y, z, visibility, or None when nobody is found."""
        import cv2

        rgb = cv2.cvtColor(_downscale(frame_bgr), cv2.COLOR_BGR2RGB)
        if self._started:
            result = self._pose.process(rgb)
        else:
            with _native_noise_filtered():
                result = self._pose.process(rgb)
            self._started = True
        if result.pose_landmarks is None:
            return None
        return np.array([[p.x, p.y, p.z, p.visibility] for p in result.pose_landmarks.landmark], dtype=np.float32)


def read_frames(path: str | os.PathLike, stride: int = 1) -> tuple[Iterator[np.ndarray], float, int, tuple[int, int]]:
    """BGR frames of a video (every ``stride``-th), its fps, frame count and size."""
    import cv2

    from ..errors import NotVideoError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise NotVideoError()
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames() -> Iterator[np.ndarray]:
        try:
            i = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if i % stride == 0:
                    yield frame
                i += 1
        finally:
            cap.release()

    return frames(), fps, count, size


def estimate_frames(
    frames: Iterable[np.ndarray], fps: float, size: tuple[int, int], progress=None, stride: int = 1
) -> PoseTrack:
    """Pose per frame (NaN where none) for an iterable of BGR frames.

    With ``stride`` > 1 only every stride-th frame is estimated; the others stay NaN for
    :func:`interpolate_gaps` to fill, and ``detected`` counts the estimated frames only.
    """
    rows, found = [], []
    missing = np.full((N_LANDMARKS, 4), np.nan, dtype=np.float32)
    with PoseEstimator(video=True) as estimator:
        for i, frame in enumerate(frames):
            if i % stride:
                rows.append(missing)
                continue
            pose = estimator.estimate(frame)
            found.append(pose is not None)
            rows.append(pose if pose is not None else missing)
            if progress is not None:
                progress(stride)
    poses = np.stack(rows) if rows else np.zeros((0, N_LANDMARKS, 4), dtype=np.float32)
    return PoseTrack(poses, fps, np.array(found, dtype=bool), size)


def estimate_video(path: str | os.PathLike, progress=None, stride: int = 1) -> PoseTrack:
    frames, fps, _, size = read_frames(path)
    return estimate_frames(frames, fps, size, progress, stride)


def interpolate_gaps(poses: np.ndarray, fps: float, max_gap_seconds: float = MAX_GAP_SECONDS) -> np.ndarray:
    """Fill runs of missing frames no longer than ``max_gap_seconds`` by linear interpolation.

    Longer gaps stay NaN (the person left the frame); leading/trailing gaps are held from the
    nearest pose when short.
    """
    out = poses.copy()
    missing = np.isnan(poses[:, 0, 0])
    if not missing.any() or missing.all():
        return out
    max_gap = max(1, int(round(max_gap_seconds * fps)))
    idx = np.arange(len(poses))
    good = idx[~missing]
    flat = poses.reshape(len(poses), -1)
    filled = np.stack([np.interp(idx, good, flat[good, j]) for j in range(flat.shape[1])], axis=1)
    # length of the run of missing frames each frame belongs to
    run_start = np.flatnonzero(missing & ~np.r_[False, missing[:-1]])
    run_end = np.flatnonzero(missing & ~np.r_[missing[1:], False]) + 1
    for a, b in zip(run_start, run_end):
        if b - a <= max_gap:
            out[a:b] = filled[a:b].reshape(b - a, N_LANDMARKS, 4)
    return out


def torso_length(poses: np.ndarray) -> np.ndarray:
    """Per frame: distance from the shoulder centre to the hip centre (x, y)."""
    shoulders = poses[:, [L_SHOULDER, R_SHOULDER], :2].mean(axis=1)
    hips = poses[:, [L_HIP, R_HIP], :2].mean(axis=1)
    return np.linalg.norm(shoulders - hips, axis=1)


def normalize(poses: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """Hip centre at the origin, scaled by torso length: ``(T, 33, 3)``.

    ``aspect`` (width / height) makes x and y the same unit before measuring. The scale is the
    clip's median torso length, so a turn (which foreshortens the torso) does not inflate it.
    """
    xyz = poses[..., :3].astype(np.float32).copy()
    xyz[..., 0] *= aspect
    xyz[..., 2] *= aspect  # MediaPipe's z is on the scale of x
    hips = xyz[:, [L_HIP, R_HIP], :].mean(axis=1, keepdims=True)
    scale = np.nanmedian(torso_length(xyz))
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return (xyz - hips) / scale


def has_full_body(pose: np.ndarray, visibility: float = VISIBLE) -> bool:
    """True when shoulders, hips, knees and ankles are all visible and inside the frame."""
    joints = pose[list(FULL_BODY)]
    inside = (joints[:, 0] > -0.02) & (joints[:, 0] < 1.02) & (joints[:, 1] > -0.02) & (joints[:, 1] < 1.02)
    return bool(np.all(joints[:, 3] >= visibility) and np.all(inside))
