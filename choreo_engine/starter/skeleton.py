"""The procedural dancer's body: MediaPipe's 33 landmarks on a fixed skeleton.

A pose is a vector of parameters (:data:`PARAM_NAMES`): root position and orientation, spine
and head rotation, hand targets (relative to the shoulder, in the chest's frame) and foot
targets (on the floor, in world coordinates). :func:`forward_kinematics` turns parameters into
joint positions with a fixed skeleton (two-bone IK for arms and legs), so every bone keeps its
length in every frame, whatever the move or blend; :func:`mirror_params` swaps left and right;
:func:`project` films the body with a pinhole camera as image-normalised landmarks.

World coordinates are metres: the hip centre of the rest pose is the origin, ``y`` points up,
``z`` towards the camera, ``x`` to the dancer's left (the image's right while the dancer faces
the camera). A standing dancer is ~1.73 m.

>>> import numpy as np
>>> rest = forward_kinematics(params_array({}, 1))
>>> project(rest).shape
(1, 33, 4)
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = [
    "BONES",
    "FLOOR_Y",
    "PARAM_INDEX",
    "PARAM_NAMES",
    "STANDING_HEIGHT",
    "forward_kinematics",
    "mirror_params",
    "params_array",
    "project",
    "rest_params",
    "rest_tracks",
]

# --------------------------------------------------------------------------------------
# Skeleton
# --------------------------------------------------------------------------------------

UPPER_ARM, FOREARM = 0.29, 0.26
THIGH, SHIN = 0.44, 0.42
HIP_HALF = 0.105          # hip joints at +-x from the pelvis centre
SHOULDER_HALF = 0.18
WAIST_UP = 0.10           # spine pivot above the pelvis centre
SHOULDER_UP = 0.40        # shoulders above the spine pivot
NECK_UP = 0.44            # neck base above the spine pivot
ANKLE_H = 0.08            # ankle above the floor
FLOOR_Y = -0.925          # the floor, world y
TURNOUT = 0.12            # natural outward turn of the feet (rad)

# Head landmarks in the head frame (origin at the neck base; x = dancer's left).
_FACE = {
    0: (0.0, 0.135, 0.112),  # nose
    1: (0.017, 0.165, 0.096), 2: (0.033, 0.166, 0.090), 3: (0.049, 0.165, 0.076),
    4: (-0.017, 0.165, 0.096), 5: (-0.033, 0.166, 0.090), 6: (-0.049, 0.165, 0.076),
    7: (0.076, 0.150, 0.000), 8: (-0.076, 0.150, 0.000),
    9: (0.024, 0.100, 0.092), 10: (-0.024, 0.100, 0.092),
}
HEAD_CENTER = (0.0, 0.150, 0.010)
HEAD_RADIUS = 0.105
STANDING_HEIGHT = (WAIST_UP + NECK_UP + HEAD_CENTER[1] + 0.118) - FLOOR_Y  # ~1.73 m

# Foot landmarks in the foot frame (origin at the ankle, z along the foot).
_HEEL = np.array([0.0, -0.070, -0.060])
_TOE = np.array([0.0, -0.072, 0.165])
_BALL = np.array([0.0, -0.072, 0.165])  # tiptoe pivot (the toe)
_HEEL_PIVOT = np.array([0.0, -0.078, -0.055])

#: Rigid pairs: their distance never changes (limbs, hands, feet, shoulder and hip girdles).
#: The torso sides (shoulder-hip) are not bones: the spine bends.
BONES: tuple[tuple[int, int], ...] = (
    (11, 12), (23, 24),
    (11, 13), (13, 15), (12, 14), (14, 16),
    (15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20),
    (23, 25), (25, 27), (24, 26), (26, 28),
    (27, 29), (27, 31), (29, 31), (28, 30), (28, 32), (30, 32),
    (0, 7), (0, 8), (7, 8), (2, 5), (9, 10),
)

# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------

PARAM_NAMES: tuple[str, ...] = (
    "x", "y", "z", "yaw", "pitch", "roll",          # pelvis position and orientation
    "c_yaw", "c_pitch", "c_roll",                   # chest relative to pelvis
    "h_yaw", "h_pitch", "h_roll",                   # head relative to chest
    "lh_out", "lh_up", "lh_fwd", "l_elb", "l_palm",  # left hand target (from shoulder, chest frame)
    "rh_out", "rh_up", "rh_fwd", "r_elb", "r_palm",
    "lf_x", "lf_z", "lf_lift", "lf_yaw", "lf_pitch", "l_knee",  # left foot (world x/z, lift, yaw)
    "rf_x", "rf_z", "rf_lift", "rf_yaw", "rf_pitch", "r_knee",
)
#: Column of each parameter in a ``(T, P)`` parameter array.
PARAM_INDEX: dict[str, int] = {n: i for i, n in enumerate(PARAM_NAMES)}

_REST: dict[str, float] = {n: 0.0 for n in PARAM_NAMES}
_REST.update(
    lh_out=0.04, lh_up=-0.52, lh_fwd=0.06, rh_out=0.04, rh_up=-0.52, rh_fwd=0.06,
    lf_x=0.12, rf_x=-0.12,
)


def rest_params() -> dict[str, float]:
    """The neutral standing pose's parameters."""
    return dict(_REST)


def params_array(p: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Named parameter tracks (missing ones at rest) -> a ``(n, P)`` parameter array."""
    out = np.empty((n, len(PARAM_NAMES)), dtype=np.float64)
    for k, i in PARAM_INDEX.items():
        out[:, i] = p[k] if k in p else _REST[k]
    return out


def rest_tracks(n: int) -> dict[str, np.ndarray]:
    """Every parameter held at rest for ``n`` frames, by name (moves overwrite the ones they move)."""
    return {k: np.full(n, v) for k, v in _REST.items()}


def mirror_params(params: np.ndarray) -> np.ndarray:
    """Mirror a ``(T, P)`` parameter array left<->right."""
    out = params.copy()
    I = PARAM_INDEX
    for k in ("x", "yaw", "roll", "c_yaw", "c_roll", "h_yaw", "h_roll"):
        out[:, I[k]] = -params[:, I[k]]
    for a, b in (("lh_out", "rh_out"), ("lh_up", "rh_up"), ("lh_fwd", "rh_fwd"),
                 ("l_elb", "r_elb"), ("l_palm", "r_palm"), ("lf_z", "rf_z"),
                 ("lf_lift", "rf_lift"), ("lf_pitch", "rf_pitch"), ("l_knee", "r_knee")):
        out[:, I[a]], out[:, I[b]] = params[:, I[b]], params[:, I[a]]
    out[:, I["lf_x"]], out[:, I["rf_x"]] = -params[:, I["rf_x"]], -params[:, I["lf_x"]]
    out[:, I["lf_yaw"]], out[:, I["rf_yaw"]] = -params[:, I["rf_yaw"]], -params[:, I["lf_yaw"]]
    return out


# --------------------------------------------------------------------------------------
# Forward kinematics
# --------------------------------------------------------------------------------------


def _rot(axis: str, ang: np.ndarray) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    R = np.zeros(ang.shape + (3, 3))
    if axis == "y":
        R[..., 0, 0] = c; R[..., 0, 2] = s; R[..., 1, 1] = 1; R[..., 2, 0] = -s; R[..., 2, 2] = c
    elif axis == "x":  # positive: +y tips towards +z (lean forward)
        R[..., 0, 0] = 1; R[..., 1, 1] = c; R[..., 1, 2] = -s; R[..., 2, 1] = s; R[..., 2, 2] = c
    else:  # "z", positive: +y tips towards +x (towards the dancer's left)
        R[..., 0, 0] = c; R[..., 0, 1] = s; R[..., 1, 0] = -s; R[..., 1, 1] = c; R[..., 2, 2] = 1
    return R


def _ypr(yaw, pitch, roll) -> np.ndarray:
    return _rot("y", yaw) @ _rot("x", pitch) @ _rot("z", roll)


def _apply(R: np.ndarray, v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return R @ v
    return np.einsum("tij,tj->ti", R, v)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / np.maximum(dist, 1e-9)
    # soft reach limit: the limb straightens smoothly instead of snapping straight
    L, k0 = l1 + l2, 0.96 * (l1 + l2)
    span = 0.999 * L - k0
    dc = np.where(dist > k0, k0 + span * np.tanh((dist - k0) / span), dist)
    dc = np.maximum(dc, abs(l1 - l2) + 1e-3)
    xa = (l1 * l1 - l2 * l2 + dc * dc) / (2.0 * dc)
    h = np.sqrt(np.maximum(l1 * l1 - xa * xa, 0.0))
    v = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    v = _unit(v)
    mid = root + u * xa + v * h
    end = root + u * dc
    return mid, end, v


def forward_kinematics(params: np.ndarray) -> np.ndarray:
    """``(T, P)`` parameters -> ``(T, 33, 3)`` world joint positions (metres, y up, z to camera)."""
    params = np.atleast_2d(np.asarray(params, dtype=np.float64))
    T = params.shape[0]
    g = {k: params[:, i] for k, i in PARAM_INDEX.items()}
    out = np.zeros((T, 33, 3))
    pc = np.stack([g["x"], g["y"], g["z"]], axis=-1)
    R0 = _ypr(g["yaw"], g["pitch"], g["roll"])
    out[:, 23] = pc + _apply(R0, [HIP_HALF, 0.0, 0.0])
    out[:, 24] = pc + _apply(R0, [-HIP_HALF, 0.0, 0.0])
    waist = pc + _apply(R0, [0.0, WAIST_UP, 0.0])
    Rc = R0 @ _ypr(g["c_yaw"], g["c_pitch"], g["c_roll"])
    out[:, 11] = waist + _apply(Rc, [SHOULDER_HALF, SHOULDER_UP, -0.01])
    out[:, 12] = waist + _apply(Rc, [-SHOULDER_HALF, SHOULDER_UP, -0.01])
    neck = waist + _apply(Rc, [0.0, NECK_UP, -0.01])
    Rh = Rc @ _ypr(g["h_yaw"], g["h_pitch"], g["h_roll"])
    for i, off in _FACE.items():
        out[:, i] = neck + _apply(Rh, off)

    # arms
    for side, s, sh, el, wr, pk, ix, th in ((1.0, "l", 11, 13, 15, 17, 19, 21),
                                             (-1.0, "r", 12, 14, 16, 18, 20, 22)):
        tgt_local = np.stack([side * g[f"{s}h_out"], g[f"{s}h_up"], g[f"{s}h_fwd"]], axis=-1)
        # a hand passing close to its shoulder goes round in front of it (no elbow flips)
        r = np.linalg.norm(tgt_local, axis=-1)
        tgt_local[:, 2] += 0.9 * np.maximum(0.0, 0.36 - r)
        target = out[:, sh] + _apply(Rc, tgt_local)
        pole_local = np.stack([side * (0.6 + g[f"{s}_elb"]), np.full(T, -0.35), np.full(T, -0.7)], axis=-1)
        elbow, wrist, v = _ik(out[:, sh], target, UPPER_ARM, FOREARM, _apply(Rc, pole_local))
        out[:, el], out[:, wr] = elbow, wrist
        u = _unit(wrist - elbow)
        t = -v
        t = _unit(t - np.sum(t * u, axis=-1, keepdims=True) * u)
        ang = side * g[f"{s}_palm"]
        t = t * np.cos(ang)[:, None] + np.cross(u, t) * np.sin(ang)[:, None]
        out[:, ix] = wrist + 0.085 * u + 0.014 * t
        out[:, pk] = wrist + 0.075 * u - 0.026 * t
        out[:, th] = wrist + 0.042 * u + 0.042 * t

    # legs
    for side, s, hp, kn, an, he, toe in ((1.0, "l", 23, 25, 27, 29, 31), (-1.0, "r", 24, 26, 28, 30, 32)):
        fyaw = g[f"{s}f_yaw"] + side * TURNOUT
        pitch = g[f"{s}f_pitch"]
        Ry = _rot("y", fyaw)
        Rf = Ry @ _rot("x", pitch)
        base = np.stack([g[f"{s}f_x"], FLOOR_Y + ANKLE_H + g[f"{s}f_lift"], g[f"{s}f_z"]], axis=-1)
        pivot = np.where((pitch >= 0)[:, None], _BALL, _HEEL_PIVOT)
        ankle_t = base + _apply(Ry, pivot) - _apply(Rf, pivot)
        pole_local = np.stack([side * (0.15 + g[f"{s}_knee"]), np.full(T, 0.3), np.ones(T)], axis=-1)
        knee, ankle, _ = _ik(out[:, hp], ankle_t, THIGH, SHIN, _apply(Ry, pole_local))
        out[:, kn], out[:, an] = knee, ankle
        out[:, he] = ankle + _apply(Rf, _HEEL)
        out[:, toe] = ankle + _apply(Rf, _TOE)
    return out


# --------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------

CAMERA_DISTANCE = 6.0  # metres; mild perspective


def project(world: np.ndarray, width: int = 640, height: int = 360,
            figure_height_px: float | None = None) -> np.ndarray:
    """World joints ``(T, 33, 3)`` -> image-normalised MediaPipe-style landmarks ``(T, 33, 4)``.

    A pinhole camera at hip height, ``CAMERA_DISTANCE`` m in front of the dancer, looks at
    the stage's centre: a standing dancer is ``figure_height_px`` tall (default 74 % of the
    frame height, at most 95 % of its width), centred, feet ~6.5 % above the bottom edge.
    ``z`` is MediaPipe-like (relative to the hip centre, smaller = closer, in units of the
    image width).  Visibility is 1, lower for joints hidden behind the body or head in a turn.
    """
    W = np.atleast_3d(np.asarray(world, dtype=np.float64))
    if W.ndim == 2:
        W = W[None]
    if figure_height_px is None:
        figure_height_px = min(0.74 * height, 0.95 * width)
    s = figure_height_px / STANDING_HEIGHT
    floor_px = height * (1.0 - 0.065)
    y_hip0 = floor_px + s * FLOOR_Y          # image row of world y = 0 at z = 0
    X, Y, Z = W[..., 0], W[..., 1], W[..., 2]
    k = CAMERA_DISTANCE / np.maximum(CAMERA_DISTANCE - Z, 0.5)
    xp = width / 2.0 + s * X * k
    yp = y_hip0 - s * Y * k
    hipz = 0.5 * (Z[:, 23] + Z[:, 24])
    zn = -(Z - hipz[:, None]) * s / width
    vis = _visibility(W)
    out = np.stack([xp / width, yp / height, zn, vis], axis=-1)
    return out.astype(np.float32)


def _visibility(W: np.ndarray) -> np.ndarray:
    T = W.shape[0]
    vis = np.ones((T, 33))
    torso = W[:, [11, 12, 23, 24]]
    cz = torso[..., 2].mean(axis=1)
    cx = torso[..., 0].mean(axis=1)
    half = 0.5 * (np.ptp(torso[..., 0], axis=1)) + 0.04
    behind = (W[..., 2] < cz[:, None] - 0.10) & (np.abs(W[..., 0] - cx[:, None]) < half[:, None])
    vis[behind] = 0.3
    ears = 0.5 * (W[:, 7] + W[:, 8])
    away = W[:, 0, 2] < ears[:, 2]   # nose behind the ears: facing away
    face = list(range(0, 7)) + [9, 10]
    vis[np.ix_(away, face)] = 0.2
    return vis

