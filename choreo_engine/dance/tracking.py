"""The lead dancer: who to follow in a video with several people.

MediaPipe Pose finds one person per image, so people are found on sampled frames (a few per
second) by two detectors that ship offline: MediaPipe itself, run again with each person found
painted over, and OpenCV's built-in HOG people detector, whose proposals count only when
MediaPipe finds a pose inside them (HOG alone fires on railings and vents). Detections are
linked into tracks; the lead is the track that is largest and most central over time.

With more than one person, the poses are estimated on one fixed crop around the lead (a stable
crop: a moving crop would add its own motion), and mapped back to the whole frame. A clip in
which the pose followed leaves the lead for someone else is refused (:class:`LeadSwitchError`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..errors import ChoreoError
from . import pose

# People are looked for this many times per second of video ...
SAMPLE_FPS = 1.0
# ... and at least this many times per video (a short clip needs more than one look a second).
MIN_SAMPLES = 16
# ... on frames scaled to this height (MediaPipe) ...
DETECT_HEIGHT = 480
# ... and this one (HOG's window is 128 px tall: people over a third of the frame's height).
HOG_HEIGHT = 360
# At most this many people per frame are looked for.
MAX_PEOPLE = 3
# HOG proposals weaker than this are not checked.
HOG_MIN_WEIGHT = 0.3
# A track needs this many detections to count as a person (one is a false positive).
MIN_TRACK_DETECTIONS = 2
# Detections further apart than this (seconds) are not linked into one track.
MAX_TRACK_GAP = 2.5
# The crop reaches this share of the lead's height beyond the lead's boxes on every side.
CROP_MARGIN = 0.15
# The followed pose is someone else when its hips are nearer another person than the lead in
# more than this share of the sampled frames where people were found.
MAX_SWITCH_SHARE = 0.2


class LeadSwitchError(ChoreoError):
    code = "lead_switch"
    default_message = "The dancer I followed changes to another person around {at:.0f} s, so I left this clip out."


Box = np.ndarray  # (4,) x0, y0, x1, y1 as shares of the frame's width and height


@dataclass
class PersonTrack:
    """One person over the sampled frames: times (s) and boxes."""

    times: list[float] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    def box_at(self, t: float, tolerance: float = 0.5 / SAMPLE_FPS) -> Box | None:
        """The box sampled nearest ``t`` (None when the person was not seen within ``tolerance``)."""
        gaps = np.abs(np.array(self.times) - t)
        i = int(np.argmin(gaps))
        return self.boxes[i] if gaps[i] <= tolerance + 1e-6 else None

    @property
    def prominence(self) -> float:
        """Size times centrality, summed over time: the lead has the most."""
        total = 0.0
        for b in self.boxes:
            area = (b[2] - b[0]) * (b[3] - b[1])
            centre = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
            centrality = 1.0 - min(1.0, float(np.linalg.norm(centre - 0.5)) / np.sqrt(0.5))
            total += area * centrality
        return total


@dataclass
class LeadDancer:
    """The people in a video and the one followed; ``crop`` (x0, y0, x1, y1 shares) is None when
    there is only one person (or none found): the whole frame is used."""

    tracks: list[PersonTrack]
    lead: PersonTrack | None
    crop: Box | None

    @property
    def people(self) -> int:
        return len(self.tracks)


def _pose_box(landmarks: np.ndarray) -> Box | None:
    visible = landmarks[:, 3] > pose.VISIBLE
    if visible.sum() < 8:
        return None
    xs, ys = landmarks[visible, 0], landmarks[visible, 1]
    head = 0.12 * (ys.max() - ys.min())  # landmarks stop at the eyes and the heels
    return np.clip(np.array([xs.min(), ys.min() - head, xs.max(), ys.max() + 0.02]), 0.0, 1.0)


def _iou(a: Box, b: Box) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _contains(box: Box, other: Box) -> bool:
    cx, cy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


class PeopleDetector:
    """Boxes of the people in one frame (MediaPipe, repeated with each person painted over, and
    HOG proposals confirmed by MediaPipe)."""

    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._estimator = pose.PoseEstimator(video=False)

    def close(self) -> None:
        self._estimator.close()

    def __enter__(self) -> "PeopleDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, frame_bgr: np.ndarray) -> list[Box]:
        cv2 = self._cv2
        scale = DETECT_HEIGHT / frame_bgr.shape[0]
        image = cv2.resize(frame_bgr, None, fx=scale, fy=scale) if scale < 1 else frame_bgr.copy()
        h, w = image.shape[:2]
        boxes: list[Box] = []
        masked = image.copy()
        for _ in range(MAX_PEOPLE):
            found = self._estimator.estimate(masked)
            box = _pose_box(found) if found is not None else None
            if box is None or any(_iou(box, b) > 0.3 for b in boxes):
                break
            boxes.append(box)
            x0, y0, x1, y1 = (box * [w, h, w, h]).astype(int)
            pad = int(0.1 * (y1 - y0))
            masked[max(0, y0 - pad): y1 + pad, max(0, x0 - pad): x1 + pad] = 127
        hog_scale = min(1.0, HOG_HEIGHT / h)
        small = cv2.resize(image, None, fx=hog_scale, fy=hog_scale) if hog_scale < 1 else image
        sh, sw = small.shape[:2]
        rects, weights = self._hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.1)
        for (x, y, rw, rh), weight in zip(rects, np.ravel(weights)):
            proposal = np.array([x / sw, y / sh, (x + rw) / sw, (y + rh) / sh])
            if len(boxes) >= MAX_PEOPLE or weight < HOG_MIN_WEIGHT:
                continue
            if any(_iou(proposal, b) > 0.2 or _contains(proposal, b) or _contains(b, proposal) for b in boxes):
                continue
            confirmed = self._confirm(image, proposal)
            if confirmed is not None and not any(_iou(confirmed, b) > 0.3 for b in boxes):
                boxes.append(confirmed)
        return boxes

    def _confirm(self, image: np.ndarray, proposal: Box) -> Box | None:
        """The pose inside a HOG proposal (enlarged), as a box in the frame; None when there is none."""
        h, w = image.shape[:2]
        bw, bh = proposal[2] - proposal[0], proposal[3] - proposal[1]
        x0, y0 = max(0.0, proposal[0] - 0.25 * bw), max(0.0, proposal[1] - 0.15 * bh)
        x1, y1 = min(1.0, proposal[2] + 0.25 * bw), min(1.0, proposal[3] + 0.15 * bh)
        crop = image[int(y0 * h): int(y1 * h), int(x0 * w): int(x1 * w)]
        if crop.size == 0:
            return None
        found = self._estimator.estimate(crop)
        box = _pose_box(found) if found is not None else None
        if box is None:
            return None
        return np.array([x0 + box[0] * (x1 - x0), y0 + box[1] * (y1 - y0),
                         x0 + box[2] * (x1 - x0), y0 + box[3] * (y1 - y0)])


def _link(detections: list[tuple[float, list[Box]]]) -> list[PersonTrack]:
    """Detections per sampled time linked into tracks (greedy, by overlap or nearness)."""
    tracks: list[PersonTrack] = []
    for t, boxes in detections:
        free = [tr for tr in tracks if t - tr.times[-1] <= MAX_TRACK_GAP]
        for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
            def distance(tr: PersonTrack) -> float:
                last = tr.boxes[-1]
                shift = np.linalg.norm((last[:2] + last[2:]) / 2 - (box[:2] + box[2:]) / 2)
                return shift / max(1e-6, last[3] - last[1])

            near = [tr for tr in free if _iou(tr.boxes[-1], box) > 0.1 or distance(tr) < 0.6]
            if near:
                best = min(near, key=distance)
                free.remove(best)
                best.times.append(t)
                best.boxes.append(box)
            else:
                tracks.append(PersonTrack([t], [box]))
    return [tr for tr in tracks if len(tr.times) >= MIN_TRACK_DETECTIONS]


def _sampled_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    frames, fps, count, _ = pose.read_frames(path)
    step = max(1, min(int(round(fps / SAMPLE_FPS)), count // MIN_SAMPLES if count > 0 else 1 << 30))
    for i, frame in enumerate(frames):
        if i % step == 0:
            yield i / fps, frame


def find_lead(path: str | os.PathLike) -> LeadDancer:
    """The people in a video and the lead dancer, with the crop that follows the lead."""
    with PeopleDetector() as detector:
        detections = [(t, detector.detect(frame)) for t, frame in _sampled_frames(path)]
    tracks = _link(detections)
    if not tracks:
        return LeadDancer([], None, None)
    lead = max(tracks, key=lambda tr: tr.prominence)
    if len(tracks) == 1:
        return LeadDancer(tracks, lead, None)
    boxes = np.array(lead.boxes)
    x0, y0 = np.percentile(boxes[:, 0], 5), np.percentile(boxes[:, 1], 5)
    x1, y1 = np.percentile(boxes[:, 2], 95), np.percentile(boxes[:, 3], 95)
    margin = CROP_MARGIN * float(np.median(boxes[:, 3] - boxes[:, 1]))
    crop = np.clip(np.array([x0 - margin, y0 - margin, x1 + margin, y1 + margin]), 0.0, 1.0)
    return LeadDancer(tracks, lead, crop)


def crop_frames(frames: Iterable[np.ndarray], crop: Box) -> Iterator[np.ndarray]:
    """Each frame cut to ``crop`` (shares of the frame)."""
    for frame in frames:
        h, w = frame.shape[:2]
        yield frame[int(crop[1] * h): int(np.ceil(crop[3] * h)), int(crop[0] * w): int(np.ceil(crop[2] * w))]


def uncrop_poses(poses: np.ndarray, crop: Box) -> np.ndarray:
    """Poses estimated on a crop, as shares of the whole frame again."""
    out = poses.copy()
    out[..., 0] = crop[0] + poses[..., 0] * (crop[2] - crop[0])
    out[..., 1] = crop[1] + poses[..., 1] * (crop[3] - crop[1])
    return out


def followed_share(poses: np.ndarray, fps: float, lead: LeadDancer, start: float = 0.0,
                   end: float = float("inf")) -> tuple[float, float | None]:
    """The share of sampled frames from ``start`` to ``end`` (s; with people found near the pose)
    where the pose is the lead's, and the first time it was someone else's (None: never)."""
    hips = poses[:, [pose.L_HIP, pose.R_HIP], :2].mean(axis=1)  # NaN where no pose
    times = sorted({t for tr in lead.tracks for t in tr.times if start <= t < end})
    checked = lead_frames = 0
    first_other = None
    for t in times:
        frame = int(round(t * fps))
        if frame >= len(hips) or np.isnan(hips[frame]).any():
            continue
        present = [(tr, tr.box_at(t)) for tr in lead.tracks]
        present = [(tr, b) for tr, b in present if b is not None]
        if not present:
            continue
        nearest, box = min(present, key=lambda p: float(np.linalg.norm((p[1][:2] + p[1][2:]) / 2 - hips[frame])))
        checked += 1
        if nearest is lead.lead:
            lead_frames += 1
        elif first_other is None:
            first_other = t
    return (lead_frames / checked if checked else 1.0), first_other


def check_follows_lead(poses: np.ndarray, fps: float, lead: LeadDancer, start: float = 0.0,
                       end: float = float("inf")) -> float:
    """The share of frames (from ``start`` to ``end`` s) that follow the lead; LeadSwitchError when
    the pose is someone else's too often."""
    share, first_other = followed_share(poses, fps, lead, start, end)
    if lead.people > 1 and share < 1.0 - MAX_SWITCH_SHARE:
        raise LeadSwitchError(at=first_other or 0.0)
    return share
