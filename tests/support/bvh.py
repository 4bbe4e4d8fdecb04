"""A small BVH reader with forward kinematics, written from the format's description and
independent of the exporter: it parses the hierarchy and motion, and composes each joint's
rotation from elementary matrices in its channel order (the file's own order, whatever it is)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    first_channel: int = 0


@dataclass
class Bvh:
    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray  # (frames, channels)

    def index(self, name: str) -> int:
        return next(i for i, j in enumerate(self.joints) if j.name == name)


def read_bvh(path: str | Path) -> Bvh:
    tokens = Path(path).read_text().split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    n_channels = 0
    i = 0
    pending: BvhJoint | None = None
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            pending = BvhJoint(tokens[i + 1], stack[-1] if stack else -1, np.zeros(3))
            i += 2
        elif tok == "End":  # End Site { OFFSET x y z }: no joint, no channels
            i += 8
        elif tok == "{":
            joints.append(pending)
            stack.append(len(joints) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            joints[stack[-1]].offset = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            joints[stack[-1]].channels = tokens[i + 2:i + 2 + n]
            joints[stack[-1]].first_channel = n_channels
            n_channels += n
            i += 2 + n
        else:
            i += 1
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array([float(v) for v in tokens[i + 6:]]).reshape(n_frames, n_channels)
    return Bvh(joints, frame_time, values)


def _elementary(axis: str, degrees: np.ndarray) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.moveaxis(np.array(rows), [0, 1], [-2, -1])


def forward_kinematics(bvh: Bvh) -> np.ndarray:
    """(frames, joints, 3) world positions: rotation = product of the channels' elementary
    rotations in the order listed; a joint sits at parent position + parent rotation @ offset."""
    T = len(bvh.motion)
    pos = np.zeros((T, len(bvh.joints), 3))
    rot = np.zeros((T, len(bvh.joints), 3, 3))
    for j, joint in enumerate(bvh.joints):
        local = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
        translation = np.zeros((T, 3))
        for k, ch in enumerate(joint.channels):
            v = bvh.motion[:, joint.first_channel + k]
            if ch.endswith("position"):
                translation[:, "XYZ".index(ch[0])] = v
            else:
                local = local @ _elementary(ch[0], v)
        if joint.parent < 0:
            pos[:, j] = translation + joint.offset
            rot[:, j] = local
        else:
            p = joint.parent
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", rot[:, p], joint.offset) + translation
            rot[:, j] = rot[:, p] @ local
    return pos

