"""The move vocabulary: 24 procedural dance moves, each with the dance styles it suits.

A move is a function of *beat phase* (beats since the move started, float) and an ``amplitude``
(0 = almost still, 1 = full size) that returns the skeleton's pose parameters
(:mod:`choreo_engine.starter.skeleton`), written with beat accents and key poses
(:mod:`choreo_engine.starter.keyframes`) so that every move hits on the beats. How moves are
strung together to dance a song is :mod:`choreo_engine.starter.choreograph`.

>>> import numpy as np
>>> sk = MOVES["step_touch"].skeleton(np.linspace(0, 4, 49), amplitude=1.0)
>>> sk.shape
(49, 33, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .keyframes import (CHEST, CLAP, FIST, FWD, HEART, HIP, SIDE, SIDE_LOW, V_UP, hit, keyed, pulse,
                        smootherstep, wave)
from .skeleton import forward_kinematics, params_array, rest_tracks

__all__ = [
    "FALLBACK_STYLE",
    "IDLE",
    "MOVES",
    "Move",
    "STYLES",
    "favourite_weights",
    "known_style",
    "moves_for_style",
]


def _amp(ph: np.ndarray, amp) -> np.ndarray:
    return np.broadcast_to(np.asarray(amp, dtype=np.float64), np.shape(ph)).copy()


MoveFn = Callable[[np.ndarray, np.ndarray], dict]


@dataclass(frozen=True)
class Move:
    """A named move: ``fn(phase, amplitude) -> parameters``; ``n_beats`` long, cyclic."""

    name: str
    fn: MoveFn
    n_beats: int
    styles: tuple[str, ...]  # the dance styles (STYLES) it suits
    energy: float            # how intense the move reads, 0..1 (used to match the music)
    description: str = ""
    block_amplitude: bool = False  # use one amplitude for the whole move (turns, jumps)

    def params(self, phase, amplitude=1.0) -> np.ndarray:
        """``(T, P)`` pose parameters at beat phases ``phase`` (beats since the move started)."""
        ph = np.atleast_1d(np.asarray(phase, dtype=np.float64))
        amp = np.clip(_amp(ph, amplitude), 0.0, 1.0)
        p = self.fn(ph, amp)
        return params_array(p, len(ph))

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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
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
    p = rest_tracks(len(ph))
    p["x"] = 0.015 * a * wave(ph, 4.0)
    p["y"] = -0.008 * a * (1 + np.sin(np.pi * ph))
    p["c_pitch"] = 0.01 * a * np.sin(np.pi * ph)
    p["lf_x"], p["rf_x"] = 0.13, -0.13
    return p


# --------------------------------------------------------------------------------------
# The vocabulary and its dance styles
# --------------------------------------------------------------------------------------

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
#: Standing and breathing: what the dancer does before the first move.
IDLE = Move("idle", _idle, 4, (), 0.0, "standing, breathing")

#: The dance styles: every move lists the ones it suits (``Move.styles``). Music styles are another
#: thing (:data:`choreo_engine.starter.music_styles.STYLES`); where the two meet,
#: :data:`choreo_engine.starter.choreograph.DANCE_STYLE_OF_MUSIC` says which dance each music gets.
STYLES: tuple[str, ...] = ("house", "hiphop", "pop", "dembow", "dnb", "ballad", "waltz")

#: What a name outside :data:`STYLES` dances like: pop has the broadest pool of moves. The starter
#: library never relies on it (it maps every music style explicitly); it serves other callers.
FALLBACK_STYLE = "pop"

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


def known_style(style: str) -> str:
    """``style`` if it is one of :data:`STYLES`, else :data:`FALLBACK_STYLE`."""
    return style if style in STYLES else FALLBACK_STYLE


def moves_for_style(style: str) -> list[Move]:
    """Moves that suit ``style`` (unknown styles dance like :data:`FALLBACK_STYLE`)."""
    st = known_style(style)
    return [m for m in _MOVE_LIST if st in m.styles]


def favourite_weights(style: str) -> Mapping[str, float]:
    """How much more often ``style`` picks some of its moves (the others weigh 1)."""
    return _FAVOURITES[known_style(style)]
