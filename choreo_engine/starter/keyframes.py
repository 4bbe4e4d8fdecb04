"""What the moves are written with: accents on the beat, key poses, and hand targets.

Every move "hits" on beat onsets. Key poses change in a quick eased transition centred on each
onset (:func:`hit`, :func:`keyed`), bounces are short dips centred on onsets (:func:`pulse`) and
swings cross their centre at onsets (:func:`wave`), so the joints move fastest around each beat.
All of them are vectorised over arrays of beat phase (beats since the move started).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .skeleton import PARAM_INDEX, PARAM_NAMES, rest_params

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
        d = rest_params()
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
    out = {k: vals[:, i] for k, i in PARAM_INDEX.items()}
    if arc:
        a0 = mean + amp[:, None] * (table[i0] - mean)
        a1 = mean + amp[:, None] * (table[i1] - mean)
        bump = np.sin(np.pi * f)
        for s in ("l", "r"):
            ix, iz = PARAM_INDEX[f"{s}f_x"], PARAM_INDEX[f"{s}f_z"]
            dist = np.hypot(a1[:, ix] - a0[:, ix], a1[:, iz] - a0[:, iz])
            out[f"{s}f_lift"] = out[f"{s}f_lift"] + arc * dist * bump
    return out
