"""Signal primitives of the synthesizer: band-limited oscillators, envelopes, partials and filters.

Everything works on NumPy arrays of samples at a sample rate ``sr``; nothing here knows music.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["additive", "bandpass", "cycles", "env", "gate", "highpass", "lowpass", "saw", "square"]



def _polyblep(ph: np.ndarray, dt: float) -> np.ndarray:
    """Band-limiting residual for a unit jump at phase 0 (removes most saw/square aliasing)."""
    out = np.zeros_like(ph)
    lo = ph < dt
    x = ph[lo] / dt
    out[lo] = x + x - x * x - 1.0
    hi = ph > 1.0 - dt
    x = (ph[hi] - 1.0) / dt
    out[hi] = x * x + x + x + 1.0
    return out


def saw(cycles: np.ndarray, dt: float) -> np.ndarray:
    ph = cycles % 1.0
    return 2.0 * ph - 1.0 - _polyblep(ph, dt)


def square(cycles: np.ndarray, dt: float, width: float = 0.5) -> np.ndarray:
    ph = cycles % 1.0
    y = np.where(ph < width, 1.0, -1.0)
    return y + _polyblep(ph, dt) - _polyblep((ph - width) % 1.0, dt)


def cycles(f: float, t: np.ndarray, sr: int, vibrato: float = 0.0, rate: float = 5.5, delay: float = 0.25) -> np.ndarray:
    """Phase in cycles; a delayed vibrato (fraction of f) makes held notes sing."""
    if vibrato <= 0.0:
        return f * t
    depth = vibrato * np.clip((t - delay) / 0.3, 0.0, 1.0)
    return np.cumsum(f * (1.0 + depth * np.sin(2 * np.pi * rate * t))) / sr


def env(n: int, n_on: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Linear ADSR: attack/decay/sustain while the note is held, then a linear release."""
    t = np.arange(n) / sr
    a = max(a, 0.002)
    held = np.interp(t, [0.0, a, a + d], [0.0, 1.0, s])
    on = n_on / sr
    level = float(np.interp(on, [0.0, a, a + d], [0.0, 1.0, s]))
    rel = level * np.clip(1.0 - (t - on) / max(r, 0.005), 0.0, 1.0)
    return np.where(t < on, held, rel)


def gate(n: int, n_on: int, sr: int, r: float, attack: float = 0.003) -> np.ndarray:
    """Click-free on/off gate for decaying sounds: short attack, linear release after note-off."""
    t = np.arange(n) / sr
    on = n_on / sr
    g = np.clip(t / attack, 0.0, 1.0)
    return g * np.clip(1.0 - (t - on) / max(r, 0.005), 0.0, 1.0)


def additive(f: float, t: np.ndarray, amps: np.ndarray, taus: np.ndarray, sr: int, stretch: float = 0.0) -> np.ndarray:
    """Sum of decaying partials k*f (slightly stretched like a real string), skipping those above Nyquist."""
    k = np.arange(1, len(amps) + 1, dtype=float)
    fk = f * k * np.sqrt(1.0 + stretch * k * k)
    keep = fk < 0.45 * sr
    fk, amps, taus = fk[keep], amps[keep], taus[keep]
    if len(fk) == 0:
        return np.zeros_like(t)
    parts = amps[:, None] * np.exp(-t[None, :] / taus[:, None]) * np.sin(2 * np.pi * fk[:, None] * t[None, :])
    return parts.sum(axis=0)


def bandpass(x: np.ndarray, lo: float, hi: float, sr: int) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    sos = signal.butter(2, [lo, hi], btype="band", fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, cutoff, btype="high", fs=sr, output="sos"), x)


def lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, min(cutoff, 0.45 * sr), btype="low", fs=sr, output="sos"), x)
