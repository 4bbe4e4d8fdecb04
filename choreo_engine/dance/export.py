"""The chosen choreography's poses as files for other tools: BVH (a skeleton with rotations
that Blender, Unity and MotionBuilder import) and keypoints as JSON or CSV.

Poses on the song's clock
-------------------------
:func:`choreography_keypoints` takes the same shots the final video uses and stages them as the
avatar does (:func:`choreo_engine.video.stage.stage_poses`: each shot retimed onto its part,
every shot on the same spot at the same size, joints crossfaded across cuts), then converts
to metres: the staged body is ``BODY_TORSOS`` torso lengths tall and is given
:data:`BODY_HEIGHT_M` (1.70 m). Axes: X to the dancer's left (screen-right when facing the
camera), Y up with the floor at 0, Z toward the camera (right-handed; MediaPipe's depth is
rough, so Z is the least certain axis). Every frame carries its time, the beat it is in and
the 8-count (:mod:`choreo_engine.music.counts`).

The BVH skeleton
----------------
Built from MediaPipe's 33 landmarks in the CMU mocap style: ``Hips`` (root, position and
rotation) with zero-length joints (``LHipJoint``, ``Spine``, ``NeckJoint``, ``LeftShoulder``
...) in front of every branch, so each bone has its own rotation and every joint lands where
the landmarks put it. Bone lengths are the medians over the dance (a rigid skeleton: its
joints follow the landmarks' directions, not their frame-to-frame length noise). Rotations:
``Hips`` and ``Chest`` from the pelvis and shoulder lines (a full frame, so the body turns);
every other joint the smallest rotation, relative to its parent, that points its bone at its
child. Channels ``Zrotation Xrotation Yrotation`` (intrinsic, ``R = Rz Rx Ry``) in degrees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import pose

__all__ = ["BODY_HEIGHT_M", "JOINTS", "LANDMARK_NAMES", "Keypoints", "Skeleton", "build_skeleton",
           "choreography_keypoints", "write_bvh", "write_csv", "write_json"]

BODY_HEIGHT_M = 1.70

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
assert len(LANDMARK_NAMES) == pose.N_LANDMARKS

# Where each joint sits: landmark indices averaged.
_HIPS, _CHEST, _EARS = (23, 24), (11, 12), (7, 8)
# (joint, parent, landmarks it sits on, rest direction of the bone from its parent, end-site landmarks or None)
# A rest direction of None: the joint sits where its parent does (zero offset, a branch point).
Joint = tuple[str, str | None, tuple[int, ...], tuple[float, float, float] | None, tuple[int, ...] | None]
JOINTS: tuple[Joint, ...] = (
    ("Hips", None, _HIPS, None, None),
    ("LHipJoint", "Hips", _HIPS, None, None),
    ("LeftUpLeg", "LHipJoint", (23,), (1, 0, 0), None),
    ("LeftLeg", "LeftUpLeg", (25,), (0, -1, 0), None),
    ("LeftFoot", "LeftLeg", (27,), (0, -1, 0), None),
    ("LeftToeBase", "LeftFoot", (31,), (0, 0, 1), None),
    ("RHipJoint", "Hips", _HIPS, None, None),
    ("RightUpLeg", "RHipJoint", (24,), (-1, 0, 0), None),
    ("RightLeg", "RightUpLeg", (26,), (0, -1, 0), None),
    ("RightFoot", "RightLeg", (28,), (0, -1, 0), None),
    ("RightToeBase", "RightFoot", (32,), (0, 0, 1), None),
    ("Spine", "Hips", _HIPS, None, None),
    ("Chest", "Spine", _CHEST, (0, 1, 0), None),
    ("NeckJoint", "Chest", _CHEST, None, None),
    ("Head", "NeckJoint", _EARS, (0, 1, 0), (0,)),
    ("LeftShoulder", "Chest", _CHEST, None, None),
    ("LeftArm", "LeftShoulder", (11,), (1, 0, 0), None),
    ("LeftForeArm", "LeftArm", (13,), (1, 0, 0), None),
    ("LeftHand", "LeftForeArm", (15,), (1, 0, 0), (17, 19)),
    ("RightShoulder", "Chest", _CHEST, None, None),
    ("RightArm", "RightShoulder", (12,), (-1, 0, 0), None),
    ("RightForeArm", "RightArm", (14,), (-1, 0, 0), None),
    ("RightHand", "RightForeArm", (16,), (-1, 0, 0), (18, 20)),
)
# The rest direction of an end site (nose ahead of the head; fingers along the forearm), by joint.
_END_REST = {"Head": (0, 0, 1), "LeftHand": (1, 0, 0), "RightHand": (-1, 0, 0)}
_END_DEFAULT = {"LeftToeBase": (0, 0, 0.05), "RightToeBase": (0, 0, 0.05)}


@dataclass
class Keypoints:
    """The dance as landmarks in metres on the song's clock."""

    times: np.ndarray  # (T,) seconds
    xyz: np.ndarray  # (T, 33, 3) metres (X left of the dancer, Y up, Z toward the camera)
    visibility: np.ndarray  # (T, 33)
    beat: np.ndarray  # (T,) int: the beat each frame is in (-1 before the first)
    count: np.ndarray  # (T,) int: its 8-count (0 before the first beat)
    part: np.ndarray  # (T,) int: the part (segment), 0-based
    fps: float


def choreography_keypoints(shots: Sequence, analysis, fps: float = 25.0,
                           body_height_m: float = BODY_HEIGHT_M) -> Keypoints:
    """The chosen shots (one per part of ``analysis``) as one continuous dance in metres."""
    from ..music.counts import count_beats
    from ..video.stage import DEPTH_SCALE, FIGURE_HEIGHT, FLOOR_ROW, stage_poses

    duration = float(shots[-1].dst_end)
    times = np.arange(max(1, int(round(duration * fps)))) / fps
    staged = stage_poses(shots, times, 1, 1).astype(np.float64)  # a unit frame: the body is FIGURE_HEIGHT tall
    metres = body_height_m / FIGURE_HEIGHT
    xyz = np.empty(staged.shape[:2] + (3,))
    xyz[..., 0] = (staged[..., 0] - 0.5) * metres
    xyz[..., 1] = (FLOOR_ROW - staged[..., 1]) * metres
    xyz[..., 2] = -staged[..., 2] * metres / DEPTH_SCALE
    xyz[..., 2] *= fit_depth_scale(xyz)
    # the staged image's x runs to the dancer's left when they face the camera: that is +X here
    xyz = rigid_landmarks(xyz)
    counts = count_beats(analysis)
    beat = counts.beat_at(times)
    count = (np.where(beat >= 0, counts.counts[np.maximum(beat, 0)], 0) if len(counts.times)
             else np.zeros(len(times), int))
    starts = np.array([s.start for s in analysis.segments])
    part = np.clip(np.searchsorted(starts, times + 1e-6, side="right") - 1, 0, len(starts) - 1)
    return Keypoints(times, xyz, staged[..., 3], beat.astype(int), count.astype(int), part.astype(int), float(fps))


# Bones whose length should not change while dancing (landmark pairs): thighs, shins, upper arms,
# forearms, the torso's sides; used to fit the depth scale.
RIGID_BONES = ((23, 25), (24, 26), (25, 27), (26, 28), (11, 13), (12, 14), (13, 15), (14, 16), (11, 23), (12, 24))
DEPTH_SCALES = np.round(np.arange(0.0, 1.01, 0.05), 2)


def fit_depth_scale(xyz: np.ndarray, scales: np.ndarray = DEPTH_SCALES) -> float:
    """The factor for MediaPipe's depth that keeps the bones' lengths steadiest through the dance.

    MediaPipe's z from one camera is on x's scale only roughly: taken at face value it makes the
    thighs and shins of the shared clips ~30 % longer than their x-y length and their lengths
    swing 2-3 times more than with z scaled by 0.2-0.3. The scale (0-1 in 0.05 steps) with the
    smallest mean coefficient of variation of :data:`RIGID_BONES` lengths is used.
    """
    a = np.array([i for i, _ in RIGID_BONES])
    b = np.array([j for _, j in RIGID_BONES])
    d = xyz[:, a] - xyz[:, b]  # (T, B, 3)
    best, best_cv = 1.0, np.inf
    for s in scales:
        length = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + (s * d[..., 2]) ** 2)
        cv = float(np.nanmean(np.nanstd(length, axis=0) / np.maximum(np.nanmean(length, axis=0), 1e-9)))
        if cv < best_cv - 1e-4:
            best, best_cv = float(s), cv
    return best


# --------------------------------------------------------------------------- the skeleton


def _joint_positions(xyz: np.ndarray) -> dict[str, np.ndarray]:
    """Each joint's target position per frame (T, 3) from the landmarks."""
    return {name: xyz[:, list(lms)].mean(axis=1) for name, _, lms, _, _ in JOINTS}


def _end_positions(xyz: np.ndarray) -> dict[str, np.ndarray]:
    return {name: xyz[:, list(end)].mean(axis=1) for name, _, _, _, end in JOINTS if end}


# Landmarks that are no joint of the skeleton move with the joint they hang on: the face with
# the head, the fingers with the wrist, the heels with the ankle.
_ATTACHED = {**{i: "Head" for i in range(11)}, 17: "LeftHand", 19: "LeftHand", 21: "LeftHand",
             18: "RightHand", 20: "RightHand", 22: "RightHand", 29: "LeftFoot", 30: "RightFoot"}


def rigid_landmarks(xyz: np.ndarray) -> np.ndarray:
    """The landmarks of one rigid body: every bone of the skeleton at its median length.

    A bone keeps its direction from the landmarks and gets its median length over the dance
    (walking from the hips outward), so the BVH skeleton reproduces these points exactly;
    landmarks off the skeleton move with the joint they hang on (:data:`_ATTACHED`).
    One camera's landmarks change length from frame to frame (on the shared dancer: a bone
    moves its end by a median 0.6-4.6 cm, wrists up to ~18 cm at the 95th percentile).
    """
    raw = _joint_positions(xyz)
    rigid: dict[str, np.ndarray] = {}
    for name, parent, _, rest, _ in JOINTS:
        if parent is None:
            rigid[name] = raw[name]
        elif rest is None:
            rigid[name] = rigid[parent]
        else:
            bone = raw[name] - raw[parent]
            length = float(np.nanmedian(np.linalg.norm(bone, axis=1)))
            rigid[name] = rigid[parent] + length * _unit(bone)
    out = xyz.copy()
    for name, _, lms, _, _ in JOINTS:
        if len(lms) == 1:
            out[:, lms[0]] = rigid[name]
    for landmark, joint in _ATTACHED.items():
        out[:, landmark] = xyz[:, landmark] + rigid[joint] - raw[joint]
    return out


@dataclass
class Skeleton:
    """A rigid skeleton: per joint its parent, rest offset (metres) and end site."""

    names: list[str]
    parents: list[int]  # -1 for the root
    offsets: np.ndarray  # (J, 3)
    end_sites: dict[int, np.ndarray]  # joint index -> end-site offset

    def children(self, j: int) -> list[int]:
        return [k for k, p in enumerate(self.parents) if p == j]


def build_skeleton(xyz: np.ndarray) -> Skeleton:
    """Rest offsets from the median bone lengths of ``xyz`` (T, 33, 3)."""
    names = [j[0] for j in JOINTS]
    index = {n: i for i, n in enumerate(names)}
    targets = _joint_positions(xyz)
    ends = _end_positions(xyz)
    parents, offsets, end_sites = [], [], {}
    for name, parent, _, rest, _ in JOINTS:
        parents.append(index[parent] if parent else -1)
        if rest is None or parent is None:
            offsets.append(np.zeros(3))
        else:
            length = float(np.nanmedian(np.linalg.norm(targets[name] - targets[parent], axis=1)))
            offsets.append(np.asarray(rest, float) * length)
    for name, rest in _END_REST.items():
        length = float(np.nanmedian(np.linalg.norm(ends[name] - targets[name], axis=1)))
        end_sites[index[name]] = np.asarray(rest, float) * length
    for name, off in _END_DEFAULT.items():
        end_sites[index[name]] = np.asarray(off, float)
    return Skeleton(names, parents, np.array(offsets), end_sites)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def _frame(x_axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) whose columns are x, y (up, made orthogonal) and z = x × y."""
    x = _unit(x_axis)
    y = _unit(up - np.sum(up * x, axis=-1, keepdims=True) * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, 3, 3): the smallest rotations turning unit vector ``a`` (3,) onto each unit ``b`` (T, 3)."""
    from scipy.spatial.transform import Rotation

    a = np.broadcast_to(_unit(np.asarray(a, float)), b.shape)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    c = np.sum(a * b, axis=-1)
    angle = np.arctan2(s, c)
    # opposite vectors: any axis perpendicular to a
    perp = np.cross(a, np.array([0.0, 0.0, 1.0]))
    perp = np.where(np.linalg.norm(perp, axis=-1, keepdims=True) < 1e-6, np.cross(a, [0.0, 1.0, 0.0]), perp)
    axis = np.where(s[:, None] < 1e-9, _unit(perp), axis / np.maximum(s, 1e-12)[:, None])
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix()


def _global_rotations(skel: Skeleton, xyz: np.ndarray) -> np.ndarray:
    """(J, T, 3, 3) world rotation of every joint, parents before children."""
    targets = _joint_positions(xyz)
    ends = _end_positions(xyz)
    T = len(xyz)
    R = np.zeros((len(skel.names), T, 3, 3))
    pelvis = _frame(xyz[:, 23] - xyz[:, 24], targets["Chest"] - targets["Hips"])
    chest = _frame(xyz[:, 11] - xyz[:, 12], targets["Chest"] - targets["Hips"])
    for j, name in enumerate(skel.names):
        parent = R[skel.parents[j]] if skel.parents[j] >= 0 else np.broadcast_to(np.eye(3), (T, 3, 3))
        kids = [k for k in skel.children(j) if np.linalg.norm(skel.offsets[k]) > 0]
        if name == "Hips":
            R[j] = pelvis
            continue
        if name == "Chest":
            R[j] = chest
            continue
        if kids:
            k = kids[0]
            rest, target = skel.offsets[k], targets[skel.names[k]] - targets[name]
        elif j in skel.end_sites and name in ends:
            rest, target = skel.end_sites[j], ends[name] - targets[name]
        else:
            R[j] = parent
            continue
        local_target = np.einsum("tji,tj->ti", parent, _unit(target))  # parent^T @ target
        R[j] = parent @ _min_rotation(rest, _unit(local_target))
    return R


def skeleton_positions(skel: Skeleton, root: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(T, J, 3) joint positions by forward kinematics from world rotations ``R``."""
    out = np.zeros((R.shape[1], len(skel.names), 3))
    for j in range(len(skel.names)):
        p = skel.parents[j]
        out[:, j] = root if p < 0 else out[:, p] + R[p] @ skel.offsets[j]
    return out


def write_bvh(keypoints: Keypoints, path: str | os.PathLike) -> Path:
    """The dance as a BVH file (see the module's docstring for the skeleton and channels)."""
    from scipy.spatial.transform import Rotation

    xyz = keypoints.xyz
    skel = build_skeleton(xyz)
    R = _global_rotations(skel, xyz)
    T = len(xyz)
    eulers = []
    for j in range(len(skel.names)):
        p = skel.parents[j]
        local = R[j] if p < 0 else np.transpose(R[p], (0, 2, 1)) @ R[j]
        eulers.append(Rotation.from_matrix(local).as_euler("ZXY", degrees=True))
    root = _joint_positions(xyz)["Hips"]
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        off = " ".join(f"{v:.6f}" for v in skel.offsets[j])
        if skel.parents[j] < 0:
            lines.append(f"ROOT {skel.names[j]}")
            channels = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
        else:
            lines.append(f"{pad}JOINT {skel.names[j]}")
            channels = "CHANNELS 3 Zrotation Xrotation Yrotation"
        lines.extend([f"{pad}{{", f"{pad}  OFFSET {off}", f"{pad}  {channels}"])
        for k in skel.children(j):
            emit(k, depth + 1)
        if j in skel.end_sites:
            end = " ".join(f"{v:.6f}" for v in skel.end_sites[j])
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / keypoints.fps:.6f}"]
    order = []  # channel order in the file: depth-first, as the hierarchy was written

    def walk(j: int) -> None:
        order.append(j)
        for k in skel.children(j):
            walk(k)

    walk(0)
    values = np.concatenate([root] + [eulers[j] for j in order], axis=1)
    lines += [" ".join(f"{v:.5f}" for v in row) for row in values]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- keypoint tables


def write_json(keypoints: Keypoints, path: str | os.PathLike) -> Path:
    """``{"fps", "body_height_m", "axes", "landmarks": [33 names], "frames": [{time, beat, count, part,
    "keypoints": [[x, y, z, visibility] x 33]}]}``."""
    points = np.round(np.concatenate([keypoints.xyz, keypoints.visibility[..., None]], axis=2), 4)
    frames = [
        {"time": round(float(keypoints.times[k]), 4), "beat": int(keypoints.beat[k]), "count": int(keypoints.count[k]),
         "part": int(keypoints.part[k]) + 1, "keypoints": points[k].tolist()}
        for k in range(len(keypoints.times))
    ]
    doc = {"fps": keypoints.fps, "body_height_m": BODY_HEIGHT_M,
           "axes": "metres; X to the dancer's left, Y up (floor at 0), Z toward the camera",
           "landmarks": list(LANDMARK_NAMES), "frames": frames}
    path = Path(path)
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


def write_csv(keypoints: Keypoints, path: str | os.PathLike) -> Path:
    """One row per frame: time, beat, count, part, then ``<landmark>_x/_y/_z/_visibility`` for all 33."""
    import pandas as pd

    table = {"time": np.round(keypoints.times, 4), "beat": keypoints.beat, "count": keypoints.count,
             "part": keypoints.part + 1}
    for i, name in enumerate(LANDMARK_NAMES):
        for a, axis in enumerate("xyz"):
            table[f"{name}_{axis}"] = np.round(keypoints.xyz[:, i, a], 4)
        table[f"{name}_visibility"] = np.round(keypoints.visibility[:, i], 3)
    path = Path(path)
    pd.DataFrame(table).to_csv(path, index=False)
    return path
