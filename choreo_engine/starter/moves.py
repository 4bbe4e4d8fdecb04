"""Procedural dance moves on MediaPipe's 33-landmark skeleton.

A move is a function of *beat phase* (beats since the move started, float) and an
``amplitude`` (0 = almost still, 1 = full size) that returns a vector of pose
parameters: root position and orientation, spine and head rotation, hand targets
(relative to the shoulder, in the chest's frame) and foot targets (on the floor,
in world coordinates).  :func:`forward_kinematics` turns parameters into joint
positions with a fixed skeleton (two-bone IK for arms and legs), so every bone
keeps its length in every frame, whatever the move or blend.

World coordinates are metres: the hip centre of the rest pose is the origin,
``y`` points up, ``z`` towards the camera, ``x`` to the dancer's left (the
image's right while the dancer faces the camera).  A standing dancer is ~1.73 m.

Accents: every move "hits" on beat onsets.  Key poses change in a quick eased
transition centred on each onset (:func:`hit`), bounces are short dips centred on
onsets (:func:`pulse`) and swings cross their centre at onsets (:func:`wave`), so
the joints move fastest around each beat.

>>> import numpy as np
>>> sk = MOVES["step_touch"].skeleton(np.linspace(0, 4, 49), amplitude=1.0)
>>> sk.shape
(49, 33, 3)
>>> take = choreograph(np.arange(0, 10, 0.5), 10.0, 25.0, "pop", np.ones(20), seed=1)
>>> take.world.shape
(250, 33, 3)
>>> project(take.world).shape
(250, 33, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "BONES",
    "DanceTake",
    "FLOOR_Y",
    "MOVES",
    "Move",
    "PARAM_NAMES",
    "STANDING_HEIGHT",
    "STYLES",
    "choreograph",
    "forward_kinematics",
    "moves_for_style",
    "project",
    "rest_params",
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
_IDX = {n: i for i, n in enumerate(PARAM_NAMES)}
_ANGLES = ("yaw", "pitch", "roll", "c_yaw", "c_pitch", "c_roll", "h_yaw", "h_pitch", "h_roll")

_REST: dict[str, float] = {n: 0.0 for n in PARAM_NAMES}
_REST.update(
    lh_out=0.04, lh_up=-0.52, lh_fwd=0.06, rh_out=0.04, rh_up=-0.52, rh_fwd=0.06,
    lf_x=0.12, rf_x=-0.12,
)

# Hand targets (out, up, forward) relative to the shoulder; "out" points away from the body.
DOWN = (0.04, -0.52, 0.06)
HIP = (-0.02, -0.40, 0.00)          # hand on hip (use elbow out)
CHEST = (-0.07, -0.20, 0.26)        # hands in front of the chest
CLAP = (-0.095, -0.13, 0.32)        # palms meeting at the midline (wrists ~0.17 m apart)
UP = (0.05, 0.53, 0.06)
V_UP = (0.33, 0.41, 0.10)
SIDE = (0.53, 0.02, 0.06)
SIDE_LOW = (0.30, -0.42, 0.08)
FWD = (0.02, -0.02, 0.53)
FIST = (0.06, -0.30, 0.22)          # bent arm, fist at waist level in front
SHOULDER_FIST = (0.12, -0.02, 0.18)  # fist near the shoulder, elbow down
HEAD_HAND = (0.02, 0.24, -0.06)     # hand behind the head
HEART = (-0.16, -0.12, 0.14)        # hand on the chest


def rest_params() -> dict[str, float]:
    """The neutral standing pose's parameters."""
    return dict(_REST)


def _vector(p: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    out = np.empty((n, len(PARAM_NAMES)), dtype=np.float64)
    for k, i in _IDX.items():
        out[:, i] = p[k] if k in p else _REST[k]
    return out


def _base(n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, v) for k, v in _REST.items()}


def mirror_params(params: np.ndarray) -> np.ndarray:
    """Mirror a ``(T, P)`` parameter array left<->right."""
    out = params.copy()
    I = _IDX
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
# Timing helpers (all vectorised over phase arrays)
# --------------------------------------------------------------------------------------


def smootherstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def hit(ph: np.ndarray, w: float = 0.5) -> np.ndarray:
    """A staircase through the beats: holds at ``n + 0.5`` between beats and passes ``n``
    at onset ``n`` in an eased transition ``w`` beats wide (fastest exactly on the onset)."""
    n = np.floor(ph + 0.5)
    return n + smootherstep((ph - n) / w + 0.5) - 0.5


def pulse(ph: np.ndarray, width: float = 0.2, offset: float = 0.0, every: float = 1.0) -> np.ndarray:
    """A short bump (peak 1) centred on every ``every``-th beat onset (shifted by ``offset``)."""
    q = (ph - offset) / every
    d = (q - np.round(q)) * every
    return np.exp(-((d / width) ** 2))


def wave(ph: np.ndarray, period: float = 2.0, shift: float = 0.0, sharp: float = 0.0,
         w: float = 0.6) -> np.ndarray:
    """``sin`` with period ``period`` beats crossing zero (at full speed) on onsets.

    ``sharp`` (0..1) warps time through :func:`hit` so the swing snaps on the beat.
    """
    q = ph - shift
    if sharp:
        q = (1.0 - sharp) * q + sharp * hit(q, w)
    return np.sin(2.0 * np.pi * q / period)


def _keyed_raw(ph: np.ndarray, n_keys: int, w: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = hit(ph, w) - 0.5
    k0 = np.floor(h)
    f = h - k0
    i0 = k0.astype(np.int64) % n_keys
    return i0, (i0 + 1) % n_keys, f


_HAND_KEYS = {"lh": ("lh_out", "lh_up", "lh_fwd"), "rh": ("rh_out", "rh_up", "rh_fwd")}


def keyed(ph: np.ndarray, amp: np.ndarray, keys: Sequence[Mapping[str, object]],
          w: float = 0.6, base: Mapping[str, object] | None = None,
          arc: float = 0.45, per: float = 1.0) -> dict[str, np.ndarray]:
    """Key poses, one per ``per`` beats, hit on the onsets and scaled about their mean by ``amp``.

    Each key is a dict of parameter overrides (``lh``/``rh`` take an (out, up, fwd) tuple);
    missing ones come from ``base`` and then the rest pose.  A foot that moves between two
    keys is lifted in an arc (``arc`` x the distance travelled).
    """
    ph = np.asarray(ph, dtype=np.float64)
    amp = np.broadcast_to(np.asarray(amp, dtype=np.float64), ph.shape)
    merged: list[dict[str, float]] = []
    for key in keys:
        d = dict(_REST)
        for src in (base or {}, key):
            for k, v in src.items():
                if k in _HAND_KEYS:
                    for name, val in zip(_HAND_KEYS[k], v):  # type: ignore[arg-type]
                        d[name] = float(val)
                else:
                    d[k] = float(v)  # type: ignore[arg-type]
        merged.append(d)
    table = np.array([[m[k] for k in PARAM_NAMES] for m in merged])  # (K, P)
    mean = table.mean(axis=0)
    i0, i1, f = _keyed_raw(ph / per, len(merged), w)
    vals = table[i0] * (1.0 - f)[:, None] + table[i1] * f[:, None]
    vals = mean + amp[:, None] * (vals - mean)
    out = {k: vals[:, i] for k, i in _IDX.items()}
    if arc:
        a0 = mean + amp[:, None] * (table[i0] - mean)
        a1 = mean + amp[:, None] * (table[i1] - mean)
        bump = np.sin(np.pi * f)
        for s in ("l", "r"):
            ix, iz = _IDX[f"{s}f_x"], _IDX[f"{s}f_z"]
            dist = np.hypot(a1[:, ix] - a0[:, ix], a1[:, iz] - a0[:, iz])
            out[f"{s}f_lift"] = out[f"{s}f_lift"] + arc * dist * bump
    return out


def _amp(ph: np.ndarray, amp) -> np.ndarray:
    return np.broadcast_to(np.asarray(amp, dtype=np.float64), np.shape(ph)).copy()


# --------------------------------------------------------------------------------------
# The moves
# --------------------------------------------------------------------------------------

MoveFn = Callable[[np.ndarray, np.ndarray], dict]


@dataclass(frozen=True)
class Move:
    """A named move: ``fn(phase, amplitude) -> parameters``; ``n_beats`` long, cyclic."""

    name: str
    fn: MoveFn
    n_beats: int
    styles: tuple[str, ...]
    energy: float            # how intense the move reads, 0..1 (used to match the music)
    description: str = ""
    block_amplitude: bool = False  # use one amplitude for the whole move (turns, jumps)

    def params(self, phase, amplitude=1.0) -> np.ndarray:
        """``(T, P)`` pose parameters at beat phases ``phase`` (beats since the move started)."""
        ph = np.atleast_1d(np.asarray(phase, dtype=np.float64))
        amp = np.clip(_amp(ph, amplitude), 0.0, 1.0)
        p = self.fn(ph, amp)
        return _vector(p, len(ph))

    def skeleton(self, phase, amplitude=1.0) -> np.ndarray:
        """``(T, 33, 3)`` world joint positions."""
        return forward_kinematics(self.params(phase, amplitude))


def _step_touch(ph, a):
    s = 0.17
    K = [
        dict(x=-0.55 * s, rf_x=-0.12 - s, lf_x=0.12 + s, lh=SIDE_LOW, rh=SIDE_LOW, c_roll=-0.05, h_roll=0.04),
        dict(x=-s, y=-0.03, rf_x=-0.12 - s, lf_x=-s + 0.03, lf_z=0.03, lf_pitch=0.55, lh=CLAP, rh=CLAP,
             c_roll=0.04, h_roll=-0.06, c_yaw=0.08),
        dict(x=0.55 * s, rf_x=-0.12 - s, lf_x=0.12 + s, lh=SIDE_LOW, rh=SIDE_LOW, c_roll=0.05, h_roll=-0.04),
        dict(x=s, y=-0.03, lf_x=0.12 + s, rf_x=s - 0.03, rf_z=0.03, rf_pitch=0.55, lh=CLAP, rh=CLAP,
             c_roll=-0.04, h_roll=0.06, c_yaw=-0.08),
    ]
    p = keyed(ph, a, K, w=0.55)
    p["y"] -= a * 0.045 * pulse(ph, 0.2)
    return p


def _side_step(ph, a):
    s = 0.13
    K = [
        dict(x=-s, roll=-0.05, c_roll=0.10, lf_x=0.27, rf_x=-0.27, lf_pitch=0.35, rh=SIDE, lh=CHEST,
             r_palm=1.2, h_yaw=-0.3, c_yaw=-0.15, y=-0.05),
        dict(x=s, roll=0.05, c_roll=-0.10, lf_x=0.27, rf_x=-0.27, rf_pitch=0.35, lh=SIDE, rh=CHEST,
             l_palm=1.2, h_yaw=0.3, c_yaw=0.15, y=-0.05),
    ]
    p = keyed(ph, a, K, w=0.65)
    p["y"] -= a * 0.05 * pulse(ph, 0.22)
    return p


def _arm_wave(ph, a):
    p = _base(len(ph))
    lw = wave(ph, 4.0, 0.0, sharp=0.4)
    rw = wave(ph, 4.0, 1.0, sharp=0.4)
    p["lh_out"] = 0.30 + a * 0.20 - a * 0.10 * np.abs(lw)
    p["rh_out"] = 0.30 + a * 0.20 - a * 0.10 * np.abs(rw)
    p["lh_up"] = -0.40 + a * (0.40 + 0.22 * lw)
    p["rh_up"] = -0.40 + a * (0.40 + 0.22 * rw)
    p["lh_fwd"] = 0.10 + 0.05 * a * rw
    p["rh_fwd"] = 0.10 + 0.05 * a * lw
    p["l_elb"] = -0.3 * a * lw
    p["r_elb"] = -0.3 * a * rw
    p["l_palm"] = 0.8 * a * lw
    p["r_palm"] = 0.8 * a * rw
    p["c_roll"] = 0.08 * a * wave(ph, 4.0, 0.5)
    p["h_roll"] = -0.06 * a * wave(ph, 4.0, 0.5)
    p["x"] = 0.05 * a * wave(ph, 4.0, 0.5)
    p["lf_x"] += 0.04 * a
    p["rf_x"] -= 0.04 * a
    p["y"] = -0.015 * a - 0.03 * a * pulse(ph, 0.22)
    return p


def _clap(ph, a):
    K = [
        dict(lh=(-0.14, -0.10, 0.32), rh=(-0.05, -0.16, 0.32), x=-0.05, c_roll=-0.06, c_yaw=-0.15,
             h_roll=0.05, rf_pitch=0.3, y=-0.02),
        dict(lh=(-0.05, -0.16, 0.32), rh=(-0.14, -0.10, 0.32), x=0.05, c_roll=0.06, c_yaw=0.15,
             h_roll=-0.05, lf_pitch=0.3, y=-0.02),
    ]
    p = keyed(ph, a, K, w=0.5, base=dict(lf_x=0.16, rf_x=-0.16))
    sep = 1.0 - pulse(ph, 0.24)
    p["lh_out"] += (0.03 + 0.16 * a) * sep
    p["rh_out"] += (0.03 + 0.16 * a) * sep
    p["lh_up"] += 0.03 * a * sep
    p["rh_up"] += 0.03 * a * sep
    p["y"] -= a * 0.05 * pulse(ph, 0.2)
    p["h_pitch"] = 0.10 * a * pulse(ph, 0.2)
    return p


def _bounce(ph, a):
    K = [
        dict(lh=(0.10, -0.36, 0.22), rh=(0.08, -0.26, 0.26), x=-0.03, c_roll=-0.05, c_yaw=-0.12),
        dict(lh=(0.08, -0.26, 0.26), rh=(0.10, -0.36, 0.22), x=0.03, c_roll=0.05, c_yaw=0.12),
    ]
    p = keyed(ph, a, K, w=0.5, base=dict(lf_x=0.17, rf_x=-0.17, y=-0.03, pitch=0.06))
    d = pulse(ph, 0.2)
    p["y"] -= a * 0.075 * d
    p["c_pitch"] += a * 0.10 * d
    p["h_pitch"] += a * 0.14 * d
    p["lh_up"] -= a * 0.08 * d
    p["rh_up"] -= a * 0.08 * d
    p["l_elb"] = 0.6 * a
    p["r_elb"] = 0.6 * a
    return p


def _turn(ph, a):
    # Arms tuck in during the spin, open out for the last two beats.
    K = [
        dict(lh=CHEST, rh=CHEST, lf_x=0.09, rf_x=-0.09, y=0.01),
        dict(lh=CHEST, rh=CHEST, lf_x=0.09, rf_x=-0.09, y=0.01),
        dict(lh=V_UP, rh=SIDE, lf_x=0.20, rf_x=-0.20, y=-0.04, c_roll=0.06, h_roll=-0.08),
        dict(lh=(0.40, 0.25, 0.12), rh=(0.42, -0.10, 0.12), lf_x=0.20, rf_x=-0.20, y=-0.02, h_roll=0.05),
    ]
    p = keyed(ph, a, K, w=0.6, arc=0.0)
    q = np.mod(ph, 4.0)
    q = np.where(q > 3.6, q - 4.0, q)  # continuous through the wrap
    s = smootherstep((q - 0.35) / 1.3)
    full = a >= 0.4
    twist = 0.9 * np.minimum(a / 0.4, 1.0) * np.sin(np.pi * s)
    yaw = np.where(full, 2.0 * np.pi * s, twist)
    yaw = np.mod(yaw + np.pi, 2.0 * np.pi) - np.pi
    spin = np.sin(np.pi * s) * full
    p["yaw"] = yaw
    rx, rz = p["x"], p["z"]
    c, sn = np.cos(yaw), np.sin(yaw)
    for side, key in ((1.0, "l"), (-1.0, "r")):
        off = p[f"{key}f_x"] - p["x"]
        p[f"{key}f_x"] = rx + off * c
        p[f"{key}f_z"] = rz - off * sn
        p[f"{key}f_yaw"] = yaw
        p[f"{key}f_pitch"] = p[f"{key}f_pitch"] + 0.45 * spin
    p["y"] = p["y"] + 0.035 * spin
    return p


def _jump(ph, a):
    q = np.mod(ph, 2.0)
    flight_s = (q - 0.22) / 0.78
    inair = (flight_s > 0) & (flight_s < 1)
    h = np.where(inair, 4.0 * flight_s * (1.0 - flight_s), 0.0)
    crouch = np.exp(-((q - 0.02) / 0.17) ** 2) + np.exp(-((q - 1.05) / 0.2) ** 2) \
        + np.exp(-((q - 2.02) / 0.17) ** 2)
    p = _base(len(ph))
    H = 0.13 * a
    p["y"] = H * h - 0.11 * a * crouch - 0.01 * a
    p["pitch"] = 0.10 * a * crouch
    p["lf_lift"] = H * h
    p["rf_lift"] = H * h
    p["lf_pitch"] = 0.5 * h * a
    p["rf_pitch"] = 0.5 * h * a
    p["lf_x"] = 0.13 + 0.03 * a
    p["rf_x"] = -0.13 - 0.03 * a
    # arms swing back in the crouch, up in the air
    qq = np.mod(ph + 0.12, 2.0) - 0.12
    lift = smootherstep((qq + 0.12) / 0.75) * (1.0 - smootherstep((qq - 0.8) / 0.8))
    for s in ("l", "r"):
        p[f"{s}h_out"] = 0.06 + a * 0.30 * lift
        p[f"{s}h_up"] = -0.50 + a * 0.88 * lift
        p[f"{s}h_fwd"] = 0.06 + a * (-0.08 * crouch + 0.05 * lift)
    p["h_pitch"] = -0.12 * a * lift + 0.1 * a * crouch
    return p


def _kick(ph, a):
    K = [
        dict(rf_z=0.42, rf_x=-0.10, rf_lift=0.30, rf_pitch=0.7, pitch=-0.12, lh=FWD, rh=SIDE_LOW,
             y=-0.04, x=0.03, c_yaw=0.10),
        dict(rf_z=0.0, y=-0.06, lh=FIST, rh=FIST, x=0.0),
        dict(lf_z=0.42, lf_x=0.10, lf_lift=0.30, lf_pitch=0.7, pitch=-0.12, rh=FWD, lh=SIDE_LOW,
             y=-0.04, x=-0.03, c_yaw=-0.10),
        dict(lf_z=0.0, y=-0.06, lh=FIST, rh=FIST, x=0.0),
    ]
    p = keyed(ph, a, K, w=0.5, base=dict(lf_x=0.11, rf_x=-0.11, r_knee=0.2, l_knee=0.2), arc=0.2)
    p["y"] -= a * 0.03 * pulse(ph, 0.2)
    return p


def _body_roll(ph, a):
    p = _base(len(ph))
    th = np.pi * ph  # one roll every two beats, crossing on the beats
    p["h_pitch"] = 0.20 * a * np.sin(th + 0.9)
    p["c_pitch"] = 0.24 * a * np.sin(th + 0.3)
    p["pitch"] = -0.10 * a * np.sin(th - 0.4)
    p["z"] = 0.06 * a * np.sin(th - 0.9)
    p["y"] = -0.04 * a - 0.04 * a * np.cos(th - 0.2) ** 2
    p["lf_x"] = 0.15
    p["rf_x"] = -0.15
    p["l_knee"] = p["r_knee"] = 0.2 * a
    slide = 0.5 + 0.5 * np.sin(th + 0.6)
    for s in ("l", "r"):
        p[f"{s}h_out"] = -0.06 + 0.05 * a
        p[f"{s}h_up"] = -0.46 + 0.05 * (1 - a) + a * 0.26 * slide
        p[f"{s}h_fwd"] = 0.14 + 0.06 * a * slide
    p["x"] = 0.03 * a * wave(ph, 4.0)
    return p


def _hip_sway(ph, a):
    p = _base(len(ph))
    sw = wave(ph, 2.0, sharp=0.55)
    p["x"] = 0.075 * a * sw
    p["roll"] = -0.07 * a * sw
    p["c_roll"] = 0.10 * a * sw
    p["h_roll"] = -0.04 * a * sw
    p["c_yaw"] = 0.08 * a * sw
    p["lf_x"], p["rf_x"] = 0.17 + 0.02 * a, -0.17 - 0.02 * a
    p["lf_pitch"] = 0.35 * a * np.clip(-sw, 0, 1)
    p["rf_pitch"] = 0.35 * a * np.clip(sw, 0, 1)
    p["y"] = -0.035 * a - 0.02 * a * pulse(ph, 0.25)
    for s, sg in (("l", 1.0), ("r", -1.0)):
        p[f"{s}h_out"] = 0.10 + 0.04 * a + 0.05 * a * sg * sw
        p[f"{s}h_up"] = -0.44 + 0.14 * a
        p[f"{s}h_fwd"] = 0.10 + 0.10 * a
        p[f"{s}_elb"] = 0.5 * a
    return p


def _point_up(ph, a):
    K = [
        dict(rh=(0.14, 0.52, 0.12), lh=HIP, l_elb=1.5, x=0.04, roll=0.04, h_yaw=-0.2, h_pitch=-0.15),
        dict(lh=(0.14, 0.52, 0.12), rh=HIP, r_elb=1.5, x=-0.04, roll=-0.04, h_yaw=0.2, h_pitch=-0.15),
        dict(lh=V_UP, rh=V_UP, y=-0.02, h_pitch=-0.2),
        dict(lh=CHEST, rh=CHEST, y=-0.06, c_pitch=0.08, h_pitch=0.1),
    ]
    p = keyed(ph, a, K, w=0.65, base=dict(lf_x=0.15, rf_x=-0.15))
    p["y"] -= a * 0.04 * pulse(ph, 0.2)
    return p


def _shoulder_shimmy(ph, a):
    K = [dict(x=-0.04, c_roll=-0.05, h_yaw=0.15), dict(x=0.04, c_roll=0.05, h_yaw=-0.15)]
    p = keyed(ph, a, K, w=0.6, base=dict(lf_x=0.18, rf_x=-0.18, y=-0.05, c_pitch=0.14, pitch=0.05,
                                        lh=(0.22, -0.32, 0.18), rh=(0.22, -0.32, 0.18), l_elb=1.0, r_elb=1.0))
    sh = wave(ph, 1.0)
    p["c_yaw"] += 0.20 * a * sh
    p["lh_fwd"] += 0.07 * a * sh
    p["rh_fwd"] -= 0.07 * a * sh
    p["y"] -= a * 0.03 * pulse(ph, 0.2)
    return p


def _grapevine(ph, a):
    s = 0.16
    x0 = 0.0
    K = [
        dict(x=x0 - 0.6 * s, rf_x=x0 - 0.12 - s, lf_x=x0 + 0.12, lh=SIDE_LOW, rh=SIDE_LOW, c_yaw=0.1),
        dict(x=x0 - s, lf_x=x0 - s - 0.02, lf_z=-0.13, rf_x=x0 - 0.12 - s, c_yaw=-0.15,
             lh=(0.34, -0.30, 0.0), rh=(0.34, -0.30, 0.0)),
        dict(x=x0 - 1.6 * s, rf_x=x0 - 0.12 - 2 * s, lf_x=x0 - s - 0.02, lf_z=-0.02, lh=SIDE_LOW, rh=SIDE_LOW),
        dict(x=x0 - 2 * s, y=-0.04, lf_x=x0 - 2 * s + 0.02, lf_pitch=0.55, rf_x=x0 - 0.12 - 2 * s,
             lh=CLAP, rh=CLAP, h_roll=0.08),
        dict(x=x0 - 1.4 * s, lf_x=x0 + 0.12 - s, rf_x=x0 - 0.12 - 2 * s, lh=SIDE_LOW, rh=SIDE_LOW, c_yaw=-0.1),
        dict(x=x0 - s, rf_x=x0 - s + 0.02, rf_z=-0.13, lf_x=x0 + 0.12 - s, c_yaw=0.15,
             lh=(0.34, -0.30, 0.0), rh=(0.34, -0.30, 0.0)),
        dict(x=x0 - 0.4 * s, lf_x=x0 + 0.12, rf_x=x0 - s + 0.02, rf_z=-0.02, lh=SIDE_LOW, rh=SIDE_LOW),
        dict(x=x0, y=-0.04, rf_x=x0 - 0.02, rf_pitch=0.55, lf_x=x0 + 0.12, lh=CLAP, rh=CLAP, h_roll=-0.08),
    ]
    p = keyed(ph, a, K, w=0.55)
    # keep the travel centred on the spot
    off = s * a
    for k in ("x", "lf_x", "rf_x"):
        p[k] = p[k] + off
    p["y"] -= a * 0.04 * pulse(ph, 0.2)
    return p


def _march(ph, a):
    p = _base(len(ph))
    q = np.mod(ph, 2.0)
    lup = np.where(q < 1.0, np.sin(np.pi * q), 0.0)
    rup = np.where(q >= 1.0, np.sin(np.pi * (q - 1.0)), 0.0)
    p["lf_lift"] = 0.20 * a * lup
    p["rf_lift"] = 0.20 * a * rup
    p["lf_z"] = 0.07 * a * lup
    p["rf_z"] = 0.07 * a * rup
    p["lf_pitch"] = 0.4 * a * lup
    p["rf_pitch"] = 0.4 * a * rup
    p["lf_x"], p["rf_x"] = 0.11, -0.11
    sw = lup - rup
    p["lh_fwd"] = 0.06 - 0.22 * a * sw + 0.06 * a
    p["rh_fwd"] = 0.06 + 0.22 * a * sw + 0.06 * a
    p["lh_up"] = -0.50 + 0.10 * a * np.clip(-sw, 0, 1) + 0.08 * a
    p["rh_up"] = -0.50 + 0.10 * a * np.clip(sw, 0, 1) + 0.08 * a
    p["l_elb"] = p["r_elb"] = 0.3 * a
    p["c_yaw"] = 0.10 * a * sw
    p["x"] = -0.025 * a * sw
    p["y"] = -0.02 * a - 0.03 * a * pulse(ph, 0.18)
    return p


def _freeze(ph, a):
    K = [
        dict(lh=V_UP, rh=HIP, r_elb=1.5, x=-0.05, roll=-0.05, c_roll=0.06, h_roll=0.10, h_yaw=0.25,
             lf_x=0.22, rf_x=-0.12, lf_pitch=0.45, y=-0.02),
        dict(lh=V_UP, rh=HIP, r_elb=1.5, x=-0.05, roll=-0.05, c_roll=0.06, h_roll=0.10, h_yaw=0.25,
             lf_x=0.22, rf_x=-0.12, lf_pitch=0.45, y=-0.02),
        dict(rh=(0.28, 0.30, 0.25), lh=HIP, l_elb=1.5, x=0.05, roll=0.05, c_roll=-0.06, h_roll=-0.10,
             h_yaw=-0.25, rf_x=-0.22, lf_x=0.12, rf_pitch=0.45, y=-0.02),
        dict(rh=(0.28, 0.30, 0.25), lh=HIP, l_elb=1.5, x=0.05, roll=0.05, c_roll=-0.06, h_roll=-0.10,
             h_yaw=-0.25, rf_x=-0.22, lf_x=0.12, rf_pitch=0.45, y=-0.02),
    ]
    p = keyed(ph, a, K, w=0.7)
    p["c_pitch"] += 0.03 * a * pulse(ph, 0.25)
    p["y"] -= 0.012 * a * pulse(ph, 0.25)
    return p


def _disco_point(ph, a):
    K = [
        dict(rh=(0.36, 0.44, 0.16), lh=HIP, l_elb=1.5, x=-0.05, roll=-0.06, h_yaw=-0.35, h_pitch=-0.15,
             c_roll=0.05, lf_pitch=0.35),
        dict(rh=(-0.30, -0.40, 0.26), lh=HIP, l_elb=1.5, x=0.05, roll=0.06, h_yaw=0.25, h_pitch=0.15,
             c_roll=-0.05, c_yaw=0.15, rf_pitch=0.35),
    ]
    p = keyed(ph, a, K, w=0.7, base=dict(lf_x=0.17, rf_x=-0.17))
    p["y"] -= a * 0.035 * pulse(ph, 0.2)
    return p


def _arm_circle(ph, a):
    """Both arms sweep in, up past the ears, out and down: a big windmill every four beats."""
    p = _base(len(ph))
    q = 0.55 * ph + 0.45 * hit(ph, 0.7)
    phi = -np.pi / 2 - 2.0 * np.pi * q / 4.0          # from the bottom, inwards first
    c, sn = np.cos(phi), np.sin(phi)
    for s in ("l", "r"):
        p[f"{s}h_out"] = 0.10 + 0.08 * a + 0.30 * a * c
        p[f"{s}h_up"] = -0.50 + 0.50 * a + 0.50 * a * sn
        p[f"{s}h_fwd"] = 0.08 + 0.24 * a * np.clip(-c, 0, 1) * np.clip(1.0 - sn, 0, 1)
        p[f"{s}_palm"] = 0.6 * a * sn
    p["c_pitch"] = -0.04 * a * sn
    p["h_pitch"] = -0.10 * a * np.clip(sn, 0, 1)
    p["y"] = -0.02 * a + 0.02 * a * sn - 0.02 * a * pulse(ph, 0.25)
    p["x"] = 0.04 * a * wave(ph, 2.0)
    p["roll"] = -0.03 * a * wave(ph, 2.0)
    p["lf_x"], p["rf_x"] = 0.15, -0.15
    return p


def _salsa_basic(ph, a):
    s = 0.20
    K = [
        dict(lf_z=s, x=0.02, z=0.6 * s, roll=0.05, c_roll=-0.05, c_yaw=0.08),     # 1: L forward
        dict(lf_z=s, x=-0.03, z=0.15 * s, roll=-0.05, c_roll=0.05),               # 2: replace onto R
        dict(lf_z=0.0, x=0.03, z=0.0, roll=0.05, c_roll=-0.05),                   # 3: L closes
        dict(lf_z=0.0, x=0.0, z=0.0, rf_pitch=0.3),                               # 4: pause
        dict(rf_z=-s, x=-0.02, z=-0.6 * s, roll=-0.05, c_roll=0.05, c_yaw=-0.08), # 5: R back
        dict(rf_z=-s, x=0.03, z=-0.15 * s, roll=0.05, c_roll=-0.05),              # 6: replace onto L
        dict(rf_z=0.0, x=-0.03, z=0.0, roll=-0.05, c_roll=0.05),                  # 7: R closes
        dict(rf_z=0.0, x=0.0, z=0.0, lf_pitch=0.3),                               # 8: pause
    ]
    base = dict(lf_x=0.10, rf_x=-0.10, y=-0.03, lh=(0.16, -0.36, 0.20), rh=(0.16, -0.36, 0.20),
                l_elb=0.7, r_elb=0.7)
    p = keyed(ph, a, K, w=0.5, base=base)
    sw = wave(ph, 2.0, sharp=0.5)
    p["lh_up"] += 0.06 * a * sw
    p["rh_up"] -= 0.06 * a * sw
    p["y"] -= a * 0.03 * pulse(ph, 0.22)
    return p


def _sway(ph, a):
    K = [
        dict(rh=HEART, lh=(0.10, -0.40, 0.18)),
        dict(rh=HEART, lh=(0.10, -0.40, 0.18)),
        dict(rh=(0.38, 0.05, 0.30), lh=(0.20, -0.30, 0.25), r_palm=1.0, h_pitch=-0.10),
        dict(rh=(0.38, 0.05, 0.30), lh=(0.20, -0.30, 0.25), r_palm=1.0, h_pitch=-0.10),
    ]
    p = keyed(ph, a, K, w=0.95, base=dict(lf_x=0.14, rf_x=-0.14), arc=0.0)
    sw = wave(ph, 2.0)
    p["x"] += 0.07 * a * sw
    p["roll"] += -0.04 * a * sw
    p["c_roll"] += 0.06 * a * sw
    p["h_roll"] += 0.08 * a * sw
    p["lf_pitch"] += 0.25 * a * np.clip(-sw, 0, 1)
    p["rf_pitch"] += 0.25 * a * np.clip(sw, 0, 1)
    p["y"] += -0.02 * a - 0.02 * a * pulse(ph, 0.3)
    return p


def _waltz_box(ph, a):
    s = 0.22
    K = [
        dict(lf_x=0.10, lf_z=s, rf_x=-0.10, rf_z=0.0, x=0.02, z=0.7 * s, y=-0.05, c_yaw=0.08),
        dict(lf_x=0.10, lf_z=s, rf_x=-0.10 - s, rf_z=s, x=-0.6 * s, z=s, y=0.02),
        dict(lf_x=0.10 - s, lf_z=s, rf_x=-0.10 - s, rf_z=s, x=-s, z=s, y=0.03, lf_pitch=0.2, rf_pitch=0.2),
        dict(lf_x=0.10 - s, lf_z=s, rf_x=-0.10 - s, rf_z=0.0, x=-s, z=0.3 * s, y=-0.05, c_yaw=-0.08),
        dict(lf_x=0.10, lf_z=0.0, rf_x=-0.10 - s, rf_z=0.0, x=-0.4 * s, z=0.0, y=0.02),
        dict(lf_x=0.10, lf_z=0.0, rf_x=-0.10, rf_z=0.0, x=0.0, z=0.0, y=0.03, lf_pitch=0.2, rf_pitch=0.2),
    ]
    base = dict(lh=(0.40, 0.10, 0.16), rh=(0.30, -0.12, 0.30), l_elb=0.2, r_elb=0.8, h_yaw=0.25,
                h_pitch=-0.05, x=0.0)
    p = keyed(ph, a, K, w=0.7, base=base)
    off_x, off_z = 0.5 * s * a, -0.5 * s * a
    for k in ("x", "lf_x", "rf_x"):
        p[k] = p[k] + off_x
    for k in ("z", "lf_z", "rf_z"):
        p[k] = p[k] + off_z
    sw = wave(ph, 6.0)
    p["c_roll"] = p["c_roll"] + 0.05 * a * sw
    return p


def _waltz_balance(ph, a):
    K = [
        dict(lf_x=0.30, x=0.10, y=-0.05, lh=(0.45, 0.10, 0.15), rh=(0.10, -0.20, 0.30), h_yaw=0.35,
             c_roll=-0.06, roll=0.05),
        dict(rf_x=0.02, rf_z=-0.08, rf_pitch=0.5, x=0.12, y=0.03, lh=(0.45, 0.16, 0.15),
             rh=(0.10, -0.16, 0.30), h_yaw=0.35, c_roll=-0.06),
        dict(rf_x=-0.12, rf_z=0.0, x=0.08, y=0.01, lh=(0.42, 0.06, 0.15), rh=(0.10, -0.22, 0.30),
             h_yaw=0.25),
        dict(rf_x=-0.30, lf_x=0.12, x=-0.10, y=-0.05, rh=(0.45, 0.10, 0.15), lh=(0.10, -0.20, 0.30),
             h_yaw=-0.35, c_roll=0.06, roll=-0.05),
        dict(lf_x=-0.02, lf_z=-0.08, lf_pitch=0.5, x=-0.12, y=0.03, rh=(0.45, 0.16, 0.15),
             lh=(0.10, -0.16, 0.30), h_yaw=-0.35, c_roll=0.06),
        dict(lf_x=0.12, lf_z=0.0, rf_x=-0.30, x=-0.08, y=0.01, rh=(0.42, 0.06, 0.15), lh=(0.10, -0.22, 0.30),
             h_yaw=-0.25),
    ]
    p = keyed(ph, a, K, w=0.7, base=dict(rf_x=-0.12, lf_x=0.12))
    return p


def _running_man(ph, a):
    p = _base(len(ph))
    p["lf_x"], p["rf_x"] = 0.11, -0.11
    for key, off in (("l", 0.0), ("r", 1.0)):
        q = np.mod(ph - off, 2.0)
        up = smootherstep((q + 0.25) / 0.5) * (1.0 - smootherstep((q - 0.75) / 0.5))
        up = np.where(q > 1.6, smootherstep((q - 2.0 + 0.25) / 0.5), up)
        # in the air it travels forward; planted, it slides back during its beat
        z_planted = np.where(q < 1.0, -0.12 + 0.24 * smootherstep(q), 0.12 - 0.24 * (q - 1.0))
        z_up = 0.06
        p[f"{key}f_z"] = a * ((1 - up) * z_planted + up * z_up)
        p[f"{key}f_lift"] = 0.24 * a * up
        p[f"{key}f_pitch"] = 0.35 * a * up
    sw = wave(ph, 2.0, sharp=0.6)
    p["lh_fwd"] = 0.14 + 0.20 * a * sw
    p["rh_fwd"] = 0.14 - 0.20 * a * sw
    p["lh_up"] = -0.34 + 0.10 * a * np.clip(sw, 0, 1)
    p["rh_up"] = -0.34 + 0.10 * a * np.clip(-sw, 0, 1)
    p["lh_out"] = p["rh_out"] = 0.10
    p["l_elb"] = p["r_elb"] = 0.5
    p["pitch"] = 0.05 * a
    p["y"] = -0.04 * a - 0.03 * a * pulse(ph, 0.2)
    p["c_yaw"] = -0.10 * a * sw
    return p


def _hiphop_rock(ph, a):
    K = [
        dict(rh=(0.10, -0.22, 0.40), lh=(0.12, -0.40, 0.10), x=-0.03, c_yaw=0.12, h_yaw=0.1),
        dict(rh=(0.12, -0.40, 0.10), lh=(0.10, -0.22, 0.40), x=0.03, c_yaw=-0.12, h_yaw=-0.1),
    ]
    p = keyed(ph, a, K, w=0.55, base=dict(lf_x=0.19, rf_x=-0.19, y=-0.05, pitch=0.05,
                                        lf_yaw=0.15, rf_yaw=-0.15))
    d = pulse(ph, 0.2)
    p["c_pitch"] += a * 0.16 * d - 0.04 * a
    p["h_pitch"] += a * 0.22 * d
    p["y"] -= a * 0.05 * d
    p["lh_up"] -= a * 0.05 * d
    p["rh_up"] -= a * 0.05 * d
    p["l_elb"] = p["r_elb"] = 0.4 * a
    return p


def _hip_circle(ph, a):
    p = _base(len(ph))
    th = 2.0 * np.pi * (0.6 * ph + 0.4 * hit(ph, 0.7)) / 2.0
    p["x"] = 0.07 * a * np.sin(th)
    p["z"] = 0.06 * a * np.cos(th)
    p["roll"] = -0.06 * a * np.sin(th)
    p["pitch"] = -0.06 * a * np.cos(th)
    p["c_roll"] = 0.08 * a * np.sin(th)
    p["c_pitch"] = 0.06 * a * np.cos(th)
    p["y"] = -0.05 * a
    p["lf_x"], p["rf_x"] = 0.19, -0.19
    p["h_roll"] = -0.05 * a * np.sin(th)
    hands = (0.16 - 0.10 * a, -0.40 + 0.62 * a, 0.06 - 0.12 * a)  # rest -> behind the head
    for s in ("l", "r"):
        p[f"{s}h_out"] = np.full(len(ph), hands[0])
        p[f"{s}h_up"] = np.full(len(ph), hands[1])
        p[f"{s}h_fwd"] = np.full(len(ph), hands[2])
        p[f"{s}_elb"] = np.full(len(ph), 1.4 * a)
    return p


def _idle(ph, a):
    p = _base(len(ph))
    p["x"] = 0.015 * a * wave(ph, 4.0)
    p["y"] = -0.008 * a * (1 + np.sin(np.pi * ph))
    p["c_pitch"] = 0.01 * a * np.sin(np.pi * ph)
    p["lf_x"], p["rf_x"] = 0.13, -0.13
    return p


_MOVE_LIST = [
    Move("step_touch", _step_touch, 4, ("pop", "house", "hiphop", "dembow", "ballad", "dnb"), 0.45,
         "step to the side, touch the other foot in, clap"),
    Move("side_step", _side_step, 2, ("house", "pop", "dembow", "dnb", "hiphop"), 0.55,
         "wide weight shifts with an arm pushing out to the side"),
    Move("arm_wave", _arm_wave, 4, ("pop", "hiphop", "ballad", "house", "dnb"), 0.45,
         "arms out, waving up and down in alternation"),
    Move("clap", _clap, 2, ("pop", "house", "dembow", "dnb"), 0.4, "clap on every beat with a knee bounce"),
    Move("bounce", _bounce, 2, ("house", "hiphop", "dnb", "dembow", "pop"), 0.5,
         "knee bounce on the beat, fists pumping, head nod"),
    Move("turn", _turn, 4, ("pop", "house", "hiphop", "ballad", "waltz"), 0.85,
         "a quick full turn on the toes, then open arms", block_amplitude=True),
    Move("jump", _jump, 2, ("house", "dnb", "pop", "hiphop", "dembow"), 0.95,
         "crouch, jump with the arms up, land on the beat", block_amplitude=True),
    Move("kick", _kick, 4, ("dnb", "house", "pop", "hiphop"), 0.8, "alternating front kicks"),
    Move("body_roll", _body_roll, 2, ("hiphop", "pop", "dembow", "ballad"), 0.4,
         "a wave rolling down from the head to the hips"),
    Move("hip_sway", _hip_sway, 2, ("dembow", "pop", "ballad", "house"), 0.35, "hips swaying side to side"),
    Move("point_up", _point_up, 4, ("pop", "house", "dnb"), 0.6, "point up with one arm, the other, then both"),
    Move("shoulder_shimmy", _shoulder_shimmy, 2, ("hiphop", "dembow", "pop", "house"), 0.5,
         "shoulders alternating forward and back"),
    Move("grapevine", _grapevine, 8, ("pop", "house"), 0.55, "side, behind, side, touch; and back"),
    Move("march", _march, 2, ("pop", "dnb", "house", "hiphop"), 0.5, "knees up in turn, arms swinging"),
    Move("freeze", _freeze, 4, ("pop", "hiphop", "ballad", "waltz", "house", "dembow", "dnb"), 0.15,
         "strike a pose and hold it, then its mirror"),
    Move("disco_point", _disco_point, 2, ("pop", "house"), 0.6, "point up and across with a hip pop"),
    Move("arm_circle", _arm_circle, 4, ("ballad", "waltz", "pop"), 0.35, "both arms circling"),
    Move("salsa_basic", _salsa_basic, 8, ("dembow", "pop"), 0.45, "forward and back basic with hip motion"),
    Move("sway", _sway, 4, ("ballad", "waltz", "pop"), 0.2, "gentle weight shift, hand to heart and out"),
    Move("waltz_box", _waltz_box, 6, ("waltz",), 0.35, "box step over two bars of three"),
    Move("waltz_balance", _waltz_balance, 6, ("waltz", "ballad"), 0.3, "balance steps left and right"),
    Move("running_man", _running_man, 2, ("dnb", "house"), 0.8, "knee up while the standing foot slides back"),
    Move("hiphop_rock", _hiphop_rock, 2, ("hiphop", "dembow"), 0.5, "chest rock and head nod, arms gesturing"),
    Move("hip_circle", _hip_circle, 4, ("dembow", "ballad"), 0.35, "hips circling, hands behind the head"),
]

#: The vocabulary, by name.
MOVES: dict[str, Move] = {m.name: m for m in _MOVE_LIST}
_IDLE = Move("idle", _idle, 4, (), 0.0, "standing, breathing")

STYLES: tuple[str, ...] = ("house", "hiphop", "pop", "dembow", "dnb", "ballad", "waltz")

# Moves a style leans on (picked more often).
_FAVOURITES = {
    "house": {"running_man": 2.0, "side_step": 1.5, "bounce": 1.5, "step_touch": 1.3},
    "hiphop": {"hiphop_rock": 2.5, "bounce": 2.0, "body_roll": 1.5, "shoulder_shimmy": 1.5},
    "pop": {"step_touch": 1.5, "point_up": 1.3, "disco_point": 1.3, "clap": 1.3, "grapevine": 1.3},
    "dembow": {"hip_sway": 2.0, "hip_circle": 1.5, "shoulder_shimmy": 1.5, "bounce": 1.5},
    "dnb": {"running_man": 2.5, "bounce": 1.5, "jump": 1.2, "kick": 1.2},
    "ballad": {"sway": 2.5, "arm_circle": 1.5, "arm_wave": 1.3},
    "waltz": {"waltz_box": 2.5, "waltz_balance": 2.0, "sway": 1.0},
}


def moves_for_style(style: str) -> list[Move]:
    """Moves that suit ``style`` (unknown styles dance like pop)."""
    st = style if style in STYLES else "pop"
    return [m for m in _MOVE_LIST if st in m.styles]


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
    g = {k: params[:, i] for k, i in _IDX.items()}
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
# Choreography
# --------------------------------------------------------------------------------------


@dataclass
class DanceTake:
    """A generated dance: world joints per frame and the moves used.

    ``moves`` holds ``(name, first_beat, n_beats)`` in indices of the song's ``beat_times``.
    """

    world: np.ndarray                       # (T, 33, 3)
    moves: list[tuple[str, int, int]]
    fps: float
    style: str
    params: np.ndarray = field(repr=False)  # (T, P)
    amplitude: np.ndarray = field(repr=False)  # (T,) motion size used per frame
    beat_phase: np.ndarray = field(repr=False)  # (T,) song beats since the first beat

    def landmarks(self, width: int = 640, height: int = 360) -> np.ndarray:
        """Image-normalised ``(T, 33, 4)`` landmarks (see :func:`project`)."""
        return project(self.world, width, height)


HIT_DELAY_BEATS = 0.5


def _beat_phase(t: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Song beat index (float) at times ``t``; extrapolated with the median period."""
    if len(beats) == 0:
        return t / 0.5
    if len(beats) == 1:
        return (t - beats[0]) / 0.5
    period = float(np.median(np.diff(beats)))
    idx = np.arange(len(beats), dtype=np.float64)
    ph = np.interp(t, beats, idx)
    ph = np.where(t < beats[0], (t - beats[0]) / period, ph)
    ph = np.where(t > beats[-1], len(beats) - 1 + (t - beats[-1]) / period, ph)
    return ph


def _normalise_energy(e: np.ndarray) -> np.ndarray:
    if e.size == 0:
        return e
    lo, hi = np.percentile(e, 5), np.percentile(e, 95)
    if not np.isfinite(hi - lo) or hi - lo < 1e-9:
        return np.full(e.shape, 0.6)
    return np.clip((e - lo) / (hi - lo), 0.0, 1.0)


def _amp_track(ph: np.ndarray, amp_beats: np.ndarray) -> np.ndarray:
    """Per-frame amplitude: beat j's value from onset j, changing in the onset's hit."""
    h = hit(ph, 0.5) - 0.5
    k0 = np.floor(h).astype(np.int64)
    f = h - k0
    n = len(amp_beats)
    a0 = amp_beats[np.clip(k0, 0, n - 1)]
    a1 = amp_beats[np.clip(k0 + 1, 0, n - 1)]
    return a0 * (1.0 - f) + a1 * f


def _plan(rng: np.random.Generator, style: str, n_beats: int, amp_beats: np.ndarray):
    """Blocks ``(move, start, length, mirrored)`` in dance beats covering ``[0, n_beats)``."""
    pool = moves_for_style(style)
    fav = _FAVOURITES.get(style if style in STYLES else "pop", {})
    phrase = 12 if style == "waltz" else 8
    blocks: list[tuple[Move, int, int, bool]] = []
    prev: str | None = None
    since_big = 99
    start = 0
    while start < n_beats:
        length = phrase
        seg_amp = float(np.mean(amp_beats[start:min(start + length, n_beats)])) if n_beats else 0.5
        halves = [length]
        if length == 8 and rng.random() < 0.35:
            halves = [4, 4]
        for part in halves:
            if start >= n_beats:
                break
            w = []
            for m in pool:
                wt = fav.get(m.name, 1.0) * math.exp(-((m.energy - seg_amp) / 0.35) ** 2)
                if m.name == prev:
                    wt *= 0.05
                if m.n_beats > part or part % m.n_beats:
                    wt *= 0.1 if m.n_beats <= part else 0.0
                if m.name in ("turn", "jump"):
                    wt *= 0.0 if since_big < 2 or seg_amp < 0.45 else 0.7
                w.append(wt)
            wa = np.asarray(w)
            if wa.sum() <= 0:
                wa = np.array([1.0 if m.name != prev else 0.0 for m in pool]) + 1e-9
            m = pool[int(rng.choice(len(pool), p=wa / wa.sum()))]
            # turns and jumps are short bursts: one cycle, then something else
            span = m.n_beats if m.name in ("turn", "jump") else part
            span = min(span, part)
            blocks.append((m, start, span, bool(rng.random() < 0.5)))
            since_big = 0 if m.name in ("turn", "jump") else since_big + 1
            prev = m.name
            start += span
            if span < part and start < n_beats:
                rest = part - span
                w2 = np.array([fav.get(mm.name, 1.0) * (0.0 if mm.name in ("turn", "jump", m.name) else 1.0)
                               * (1.0 if rest % mm.n_beats == 0 else 0.05) for mm in pool]) + 1e-12
                m2 = pool[int(rng.choice(len(pool), p=w2 / w2.sum()))]
                blocks.append((m2, start, rest, bool(rng.random() < 0.5)))
                prev = m2.name
                start += rest
    return blocks


def choreograph(beat_times: np.ndarray, duration: float, fps: float, style: str,
                beat_energy: np.ndarray, seed: int = 0) -> DanceTake:
    """Sequence moves that suit ``style`` to a song's beats.

    Parameters
    ----------
    beat_times : beat onsets in seconds (increasing).
    duration : length of the dance in seconds; frames at ``np.arange(round(duration*fps)) / fps``.
    fps : frame rate.
    style : house, hiphop, pop, dembow, dnb, ballad, waltz (anything else dances like pop).
    beat_energy : loudness per beat (any scale, e.g. 0-10 levels); louder beats get bigger moves.
    seed : the same seed gives the same dance.

    Moves change on 8-beat phrases (12 in waltz), blend over half a beat around the onset
    where they change, and hit on every beat.  Above ~145 BPM the dance moves at half time.
    """
    beats = np.asarray(beat_times, dtype=np.float64).ravel()
    energy = np.asarray(beat_energy, dtype=np.float64).ravel()
    if len(beats) and np.any(np.diff(beats) <= 0):
        raise ValueError("beat_times must be strictly increasing")
    if fps <= 0 or duration < 0:
        raise ValueError("fps must be > 0 and duration >= 0")
    if len(energy) != len(beats):
        if len(energy) == 0:
            energy = np.ones(len(beats))
        else:
            energy = np.interp(np.linspace(0, 1, len(beats)), np.linspace(0, 1, len(energy)), energy)
    energy = np.nan_to_num(energy, nan=float(np.nanmean(energy)) if np.isfinite(energy).any() else 0.0)
    n_frames = int(round(duration * fps))
    t = np.arange(n_frames) / fps
    song_ph = _beat_phase(t, beats)
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    step = 2 if period < 60.0 / 145.0 and style != "waltz" else 1
    # The moves pass through their key poses half a beat after each onset; the dance runs half
    # a beat late so those arrivals - the hits, where the body's speed dips - land on the beats
    # (a kinematic beat is a minimum of speed; `choreo bench plan` measures the alignment).
    ph = (song_ph - HIT_DELAY_BEATS) / step

    e = _normalise_energy(energy)
    n_song = max(len(beats), 1)
    if len(e) == 0:
        e = np.full(1, 0.6)
    # beats past the last one keep the last energy
    last_beat = int(math.ceil(float(song_ph.max()))) + 2 if n_frames else 1
    e_ext = np.concatenate([e, np.full(max(0, last_beat - len(e)), e[-1])])
    n_dance = int(math.ceil(len(e_ext) / step))
    e_dance = np.array([e_ext[i * step:(i + 1) * step].mean() for i in range(n_dance)])
    amp_beats = 0.1 + 0.9 * e_dance
    if style in ("ballad", "waltz"):
        amp_beats = 0.1 + 0.75 * e_dance

    rng = np.random.default_rng(seed)
    total = int(math.ceil(float(ph.max()))) + 1 if n_frames else 0
    blocks = _plan(rng, style, max(total, 0), amp_beats)

    params = np.zeros((n_frames, len(PARAM_NAMES)))
    amp_t = _amp_track(ph, amp_beats) if n_frames else np.zeros(0)
    bw = 0.25  # half the blend window, in beats
    segs: list[tuple[Move, float, float, bool]] = [(_IDLE, -math.inf, 0.0, False)]
    segs += [(m, float(s), float(s + n), mir) for m, s, n, mir in blocks]
    for k, (m, s0, s1, mir) in enumerate(segs):
        lo = s0 - bw if k > 0 else -math.inf
        hi = s1 + bw if k < len(segs) - 1 else math.inf
        mask = (ph >= lo) & (ph < hi)
        if not mask.any():
            continue
        local = ph[mask] - (s0 if k > 0 else 0.0)
        w = np.ones(mask.sum())
        if k > 0:
            w *= smootherstep((ph[mask] - s0 + bw) / (2 * bw))
        if k < len(segs) - 1:
            w -= smootherstep((ph[mask] - s1 + bw) / (2 * bw))
        if m is _IDLE:
            a = np.full(mask.sum(), 0.5)
        elif m.block_amplitude:
            i0, i1 = int(s0), int(min(s1, len(amp_beats)))
            a = np.full(mask.sum(), float(amp_beats[i0:max(i1, i0 + 1)].mean()) if i0 < len(amp_beats) else 0.5)
        else:
            a = amp_t[mask]
        p = m.params(local, a)
        if mir:
            p = mirror_params(p)
        params[mask] += w[:, None] * p

    world = forward_kinematics(params) if n_frames else np.zeros((0, 33, 3))
    moves = [(m.name, s * step, n * step) for m, s, n, _ in blocks]
    return DanceTake(world=world.astype(np.float32), moves=moves, fps=float(fps), style=style,
                     params=params, amplitude=amp_t, beat_phase=song_ph)


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
