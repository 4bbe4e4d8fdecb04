"""Procedural music for the starter dance library.

A fresh machine has no songs, so the starter library synthesizes its own: drums from
noise and swept sines, a bass line, chords, a pad and a melody from the key's scale,
arranged in sections (intro, verse, build, chorus, breakdown, outro) whose loudness
differs by well over 12 dB. Every style has its own tempo range, drum patterns, swing
and instrument palette, so a music-similarity index can tell the styles apart, and every
beat falls exactly on a known grid, so beat trackers can be checked against the truth.

Everything is a pure function of its arguments: the same seed gives the same samples.

Examples
--------
>>> song = synthesize_song("house", tempo=124, seed=3)
>>> song.sr, song.beat_times.shape == song.beat_energy.shape
(22050, True)
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

__all__ = [
    "STYLES",
    "StyleSpec",
    "SynthSong",
    "synthesize_song",
    "demo_song_plan",
    "parse_key",
]

SR = 22050
STEPS_PER_BEAT = 4  # patterns are written on a sixteenth-note grid
DYNAMIC_RANGE_DB = 18.0  # master gain between energy 0 and energy 1
PEAK = 0.9

# --------------------------------------------------------------------------- pitch

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E"}
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}


def parse_key(key: str) -> tuple[int, str]:
    """Return ``(tonic pitch class, mode)`` for a key such as ``"F# minor"`` or ``"Bb"``."""
    parts = key.strip().split()
    if not parts or len(parts) > 2:
        raise ValueError(f"not a key: {key!r}")
    name = parts[0][0].upper() + parts[0][1:]
    name = _FLATS.get(name, name)
    if name not in NOTE_NAMES:
        raise ValueError(f"unknown tonic in key {key!r}")
    mode = parts[1].lower() if len(parts) == 2 else "major"
    if mode not in SCALES:
        raise ValueError(f"unknown mode in key {key!r}; use one of {sorted(SCALES)}")
    return NOTE_NAMES.index(name), mode


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@dataclass(frozen=True)
class _Scale:
    """Scale degrees (any integer, 7 per octave) to MIDI numbers."""

    tonic_pc: int
    mode: str

    def midi(self, degree: int, base: int) -> int:
        """MIDI note of ``degree``, where degree 0 is the tonic in [base, base + 12)."""
        tonic = base + (self.tonic_pc - base) % 12
        steps = SCALES[self.mode]
        return tonic + 12 * (degree // 7) + steps[degree % 7]


def _place(midi: int, low: int) -> int:
    """The same pitch class moved into [low, low + 12)."""
    return low + (midi - low) % 12


# --------------------------------------------------------------------------- oscillators


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


def _saw(cycles: np.ndarray, dt: float) -> np.ndarray:
    ph = cycles % 1.0
    return 2.0 * ph - 1.0 - _polyblep(ph, dt)


def _square(cycles: np.ndarray, dt: float, width: float = 0.5) -> np.ndarray:
    ph = cycles % 1.0
    y = np.where(ph < width, 1.0, -1.0)
    return y + _polyblep(ph, dt) - _polyblep((ph - width) % 1.0, dt)


def _cycles(f: float, t: np.ndarray, sr: int, vibrato: float = 0.0, rate: float = 5.5, delay: float = 0.25) -> np.ndarray:
    """Phase in cycles; a delayed vibrato (fraction of f) makes held notes sing."""
    if vibrato <= 0.0:
        return f * t
    depth = vibrato * np.clip((t - delay) / 0.3, 0.0, 1.0)
    return np.cumsum(f * (1.0 + depth * np.sin(2 * np.pi * rate * t))) / sr


def _env(n: int, n_on: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Linear ADSR: attack/decay/sustain while the note is held, then a linear release."""
    t = np.arange(n) / sr
    a = max(a, 0.002)
    held = np.interp(t, [0.0, a, a + d], [0.0, 1.0, s])
    on = n_on / sr
    level = float(np.interp(on, [0.0, a, a + d], [0.0, 1.0, s]))
    rel = level * np.clip(1.0 - (t - on) / max(r, 0.005), 0.0, 1.0)
    return np.where(t < on, held, rel)


def _gate(n: int, n_on: int, sr: int, r: float, attack: float = 0.003) -> np.ndarray:
    """Click-free on/off gate for decaying sounds: short attack, linear release after note-off."""
    t = np.arange(n) / sr
    on = n_on / sr
    g = np.clip(t / attack, 0.0, 1.0)
    return g * np.clip(1.0 - (t - on) / max(r, 0.005), 0.0, 1.0)


def _additive(f: float, t: np.ndarray, amps: np.ndarray, taus: np.ndarray, sr: int, stretch: float = 0.0) -> np.ndarray:
    """Sum of decaying partials k*f (slightly stretched like a real string), skipping those above Nyquist."""
    k = np.arange(1, len(amps) + 1, dtype=float)
    fk = f * k * np.sqrt(1.0 + stretch * k * k)
    keep = fk < 0.45 * sr
    fk, amps, taus = fk[keep], amps[keep], taus[keep]
    if len(fk) == 0:
        return np.zeros_like(t)
    parts = amps[:, None] * np.exp(-t[None, :] / taus[:, None]) * np.sin(2 * np.pi * fk[:, None] * t[None, :])
    return parts.sum(axis=0)


# --------------------------------------------------------------------------- instruments


@dataclass(frozen=True)
class Instrument:
    """A tonal voice: ``kind`` picks the synthesis recipe; ``bright``/``decay`` shade it."""

    name: str
    kind: str
    bright: float = 0.5
    decay: float = 1.0
    release: float = 0.12
    lowpass: float | None = None  # applied once to the whole track


def _render_tone(inst: Instrument, midi: int, n_on: int, sr: int) -> np.ndarray:
    """One note of ``inst`` held for ``n_on`` samples, plus its release; peak about 1."""
    f = _hz(midi)
    n = n_on + int(inst.release * sr)
    t = np.arange(n) / sr
    b, dec, k = inst.bright, inst.decay, inst.kind
    dt = f / sr
    if k == "epiano":  # FM tine: the index decays, so the attack barks and the tail is pure
        index = 0.4 + 2.5 * b * np.exp(-t / 0.25)
        y = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t))
        if 14 * f < 0.45 * sr:
            y += 0.2 * b * np.sin(2 * np.pi * 14 * f * t) * np.exp(-t / 0.03)
        y *= np.exp(-t / (1.4 * dec)) * _gate(n, n_on, sr, inst.release)
    elif k == "piano":
        kk = np.arange(1, 13)
        amps = kk ** -(1.6 - 0.6 * b) * (1 + 0.6 * np.sin(np.pi * kk * 0.13))
        taus = 1.8 * dec / (1 + 0.45 * (kk - 1)) * (220 / max(f, 110)) ** 0.3
        y = _additive(f, t, amps, taus, sr, stretch=2e-4)
        y *= _gate(n, n_on, sr, inst.release)
    elif k == "pluck":  # plucked string: partials shaped by the pluck point, upper ones die first
        kk = np.arange(1, 16)
        amps = np.abs(np.sin(np.pi * kk * 0.18)) / kk ** (1.3 - 0.5 * b)
        taus = 0.9 * dec / (1 + 0.7 * (kk - 1))
        y = _additive(f, t, amps, taus, sr, stretch=1e-4) * _gate(n, n_on, sr, inst.release)
    elif k == "bell":  # FM with an inharmonic ratio
        index = 3.0 * b * np.exp(-t / 0.5)
        y = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * 3.5 * f * t))
        y *= np.exp(-t / (1.2 * dec)) * _gate(n, n_on, sr, inst.release)
    elif k == "brass":  # FM whose brightness follows the loudness, as in a horn
        env = _env(n, n_on, sr, 0.04, 0.15, 0.8, inst.release)
        y = np.sin(2 * np.pi * f * t + (0.5 + 3.0 * b * env) * np.sin(2 * np.pi * f * t)) * env
    elif k == "organ":
        ratios = np.array([1, 2, 3, 4, 6, 8], dtype=float)
        w = np.array([1.0, 0.8, 0.5 * b + 0.2, 0.35 * b, 0.25 * b, 0.15 * b])
        keep = ratios * f < 0.45 * sr
        y = (w[keep, None] * np.sin(2 * np.pi * f * ratios[keep, None] * t[None, :])).sum(axis=0)
        y *= (1 + 0.12 * np.sin(2 * np.pi * 6.0 * t)) * _env(n, n_on, sr, 0.008, 0.1, 0.85, inst.release)
    elif k in ("pad", "strings"):  # detuned band-limited saws; strings swell faster and vibrate
        detune = 0.004 + 0.006 * b
        vib = 0.004 if k == "strings" else 0.0
        y = sum(_saw(_cycles(f * (1 + dd), t, sr, vib, 5.0 + 300 * dd), dt) for dd in (-detune, 0.0, detune)) / 3
        a = 0.12 if k == "strings" else 0.35
        y *= _env(n, n_on, sr, a * dec, 0.4, 0.85, inst.release)
    elif k == "saw_lead":
        ph = _cycles(f, t, sr, 0.006)
        bright = b * (0.45 + 0.55 * np.exp(-t / 0.25))
        y = bright * _saw(ph, dt) + (1 - bright) * np.sin(2 * np.pi * ph)
        y += 0.3 * _square(ph * 0.5, dt / 2)
        y *= _env(n, n_on, sr, 0.01, 0.2, 0.75, inst.release)
    elif k == "dist_lead":  # overdriven guitar-like lead: saw and square through a soft clipper
        ph = _cycles(f, t, sr, 0.008, 5.5, 0.15)
        y = np.tanh((3.0 + 5.0 * b) * (0.6 * _saw(ph, dt) + 0.4 * _square(ph, dt, 0.3)))
        y *= _env(n, n_on, sr, 0.005, 0.3, 0.8, inst.release)
    elif k == "square_lead":
        ph = _cycles(f, t, sr, 0.005)
        y = _square(ph, dt, 0.5 - 0.3 * b) * _env(n, n_on, sr, 0.01, 0.15, 0.7, inst.release)
    elif k == "clav":  # narrow pulse, fast decay: funky and percussive
        y = _square(f * t, dt, 0.12 + 0.1 * (1 - b)) * np.exp(-t / (0.18 * dec)) * _gate(n, n_on, sr, inst.release)
    elif k == "accordion":  # two reeds slightly apart beat against each other
        y = 0.5 * _square(f * 1.003 * t, dt) + 0.5 * _square(f * 0.997 * t, dt, 0.4) + 0.3 * _saw(f * t, dt)
        y *= _env(n, n_on, sr, 0.03, 0.1, 0.9, inst.release) * (1 + 0.1 * np.sin(2 * np.pi * 5.0 * t))
    elif k == "power":  # distorted power chord: root, fifth, octave through a soft clipper
        y = _saw(f * t, dt) + 0.8 * _saw(f * 1.4983 * t, dt * 1.5) + 0.6 * _saw(2 * f * t, 2 * dt)
        y = np.tanh((2.0 + 4.0 * b) * y / 2.4)
        y *= _env(n, n_on, sr, 0.004, 0.25 * dec, 0.6, inst.release)
    elif k == "flute":
        ph = _cycles(f, t, sr, 0.007, 5.0, 0.2)
        y = np.sin(2 * np.pi * ph) + 0.25 * b * np.sin(4 * np.pi * ph) + 0.1 * np.sin(6 * np.pi * ph)
        breath = np.random.default_rng(midi).standard_normal(n) * 0.05 * b
        y = (y + breath) * _env(n, n_on, sr, 0.06, 0.1, 0.85, inst.release)
    elif k == "sub808":  # sine with a little pitch drop; soft clipping gives small speakers something to play
        ph = np.cumsum(f * (1 + 0.6 * np.exp(-t / 0.03))) / sr
        y = np.tanh((1.5 + 2 * b) * np.sin(2 * np.pi * ph)) * np.exp(-t / (0.9 * dec))
        y *= _gate(n, n_on, sr, inst.release, 0.002)
    elif k == "saw_bass":  # acid-ish: brightness decays after the attack (a filter envelope by cross-fade)
        w = b * (0.25 + 0.75 * np.exp(-t / 0.12))
        y = w * _saw(f * t, dt) + (1 - w) * np.sin(2 * np.pi * f * t)
        y *= _env(n, n_on, sr, 0.004, 0.2 * dec, 0.6, inst.release)
    elif k == "fm_bass":
        index = 0.5 + 2.0 * b * np.exp(-t / 0.15)
        y = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t)) * _env(n, n_on, sr, 0.004, 0.3, 0.6, inst.release)
    elif k == "reese":  # two detuned saws over a sub: the dnb growl
        y = 0.5 * (_saw(f * 1.007 * t, dt) + _saw(f * 0.993 * t, dt)) + 0.8 * np.sin(2 * np.pi * f * t)
        y *= _env(n, n_on, sr, 0.01, 0.1, 0.9, inst.release)
    elif k in ("finger", "slap"):
        kk = np.arange(1, 11)
        slap = k == "slap"
        amps = kk ** (-(1.1 if slap else 1.7) + 0.4 * b)
        taus = (0.5 if slap else 0.9) * dec / (1 + (0.9 if slap else 0.5) * (kk - 1))
        y = _additive(f, t, amps, taus, sr) * _gate(n, n_on, sr, inst.release)
        if slap:
            y += 0.6 * np.sin(2 * np.pi * 4 * f * t) * np.exp(-t / 0.015)
    elif k == "tuba":
        y = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t) + 0.25 * b * np.sin(6 * np.pi * f * t)
        y *= _env(n, n_on, sr, 0.03, 0.1, 0.75, inst.release)
    else:
        raise ValueError(f"unknown instrument kind {k!r}")
    peak = float(np.max(np.abs(y))) or 1.0
    return y / peak


@lru_cache(maxsize=512)
def _loudness_norm(inst: Instrument, sr: int) -> float:
    """Gain that brings a reference note of ``inst`` to a common RMS, so mix levels mean the same across timbres."""
    ref = 48 if inst.kind in _BASS_KINDS else 67
    y = _render_tone(inst, ref, int(0.5 * sr), sr)[: int(0.5 * sr)]
    return 0.25 / max(float(np.sqrt(np.mean(y * y))), 1e-6)


_BASS_KINDS = frozenset({"sub808", "saw_bass", "fm_bass", "reese", "finger", "slap", "tuba"})

INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in [
        Instrument("epiano", "epiano", 0.5, 1.0, 0.3),
        Instrument("piano", "piano", 0.6, 1.0, 0.25),
        Instrument("pluck", "pluck", 0.6, 1.0, 0.15),
        Instrument("bell", "bell", 0.6, 1.0, 0.4),
        Instrument("brass", "brass", 0.6, 1.0, 0.1, 5000.0),
        Instrument("organ", "organ", 0.5, 1.0, 0.08, 6000.0),
        Instrument("pad", "pad", 0.5, 1.0, 0.6, 2200.0),
        Instrument("strings", "strings", 0.5, 1.0, 0.4, 3500.0),
        Instrument("saw_lead", "saw_lead", 0.7, 1.0, 0.12, 5000.0),
        Instrument("dist_lead", "dist_lead", 0.6, 1.0, 0.1, 4500.0),
        Instrument("square_lead", "square_lead", 0.5, 1.0, 0.1, 4000.0),
        Instrument("clav", "clav", 0.6, 1.0, 0.05, 5000.0),
        Instrument("accordion", "accordion", 0.5, 1.0, 0.1, 3500.0),
        Instrument("power", "power", 0.6, 1.0, 0.08, 3200.0),
        Instrument("flute", "flute", 0.6, 1.0, 0.12, 6000.0),
        Instrument("sub808", "sub808", 0.4, 1.0, 0.06),
        Instrument("saw_bass", "saw_bass", 0.7, 1.0, 0.05, 1800.0),
        Instrument("fm_bass", "fm_bass", 0.6, 1.0, 0.05),
        Instrument("reese", "reese", 0.5, 1.0, 0.08, 700.0),
        Instrument("finger", "finger", 0.5, 1.0, 0.06),
        Instrument("slap", "slap", 0.7, 1.0, 0.05),
        Instrument("tuba", "tuba", 0.5, 1.0, 0.08, 2000.0),
    ]
}


# --------------------------------------------------------------------------- drums


@dataclass(frozen=True)
class Kit:
    """Drum sound parameters for a style (seconds and Hz)."""

    kick_hz: tuple[float, float] = (150.0, 50.0)  # start and end of the pitch sweep
    kick_sweep: float = 0.04
    kick_decay: float = 0.3
    kick_click: float = 0.3
    kick_drive: float = 1.5
    snare_hz: float = 190.0
    snare_decay: float = 0.15
    snare_band: tuple[float, float] = (1200.0, 8000.0)
    snare_noise: float = 0.65
    hat_decay: float = 0.04
    hat_metal: float = 0.4
    perc: str = "conga"
    perc_hz: float = 300.0


KITS: dict[str, Kit] = {
    "house": Kit((160, 55), 0.035, 0.16, 0.35, 2.0, 200, 0.18, (1000, 7000), 0.7, 0.035, 0.5, "conga", 320),
    "boom": Kit((120, 56), 0.05, 0.15, 0.25, 2.5, 180, 0.2, (900, 6000), 0.6, 0.05, 0.2, "rim", 1700),
    "808": Kit((110, 48), 0.06, 0.35, 0.2, 1.8, 200, 0.16, (1000, 9000), 0.7, 0.03, 0.7, "clave", 2500),
    "pop": Kit((140, 56), 0.04, 0.15, 0.3, 1.6, 210, 0.17, (1200, 8000), 0.65, 0.04, 0.3, "shaker", 0),
    "dnb": Kit((180, 60), 0.03, 0.12, 0.45, 1.4, 230, 0.13, (1500, 9000), 0.6, 0.03, 0.3, "ride", 0),
    "soft": Kit((90, 52), 0.05, 0.15, 0.05, 1.0, 170, 0.25, (500, 4500), 0.85, 0.06, 0.1, "shaker", 0),
    "latin": Kit((130, 52), 0.04, 0.18, 0.9, 2.0, 420, 0.05, (1500, 8000), 0.5, 0.035, 0.4, "timbale", 520),
    "funk": Kit((130, 58), 0.035, 0.13, 0.3, 1.4, 220, 0.14, (1500, 8500), 0.55, 0.035, 0.35, "cowbell", 560),
    "rock": Kit((130, 55), 0.04, 0.14, 0.5, 2.0, 185, 0.2, (900, 7000), 0.7, 0.06, 0.5, "tom", 140),
    "reggae": Kit((100, 52), 0.05, 0.18, 0.15, 1.3, 380, 0.07, (1800, 7000), 0.4, 0.04, 0.3, "rim", 1600),
}


def _bandpass(x: np.ndarray, lo: float, hi: float, sr: int) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    sos = signal.butter(2, [lo, hi], btype="band", fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def _highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, cutoff, btype="high", fs=sr, output="sos"), x)


def _lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, min(cutoff, 0.45 * sr), btype="low", fs=sr, output="sos"), x)


def _norm(y: np.ndarray) -> np.ndarray:
    """Peak 1 with a ~1 ms fade-in so one-shots never click."""
    y = y * np.clip(np.arange(len(y)) / 24.0, 0.0, 1.0)
    return y / (float(np.max(np.abs(y))) or 1.0)


def _metal(t: np.ndarray, scale: float) -> np.ndarray:
    """The 808 trick: six square waves at inharmonic frequencies sound like a cymbal once high-passed."""
    freqs = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0]) * scale
    return np.sign(np.sin(2 * np.pi * freqs[:, None] * t[None, :])).sum(axis=0) / 6


def _drum_sounds(kit: Kit, sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot samples for every drum voice, rendered once per song."""

    def tt(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr)) / sr

    def noise(n: int) -> np.ndarray:
        return rng.standard_normal(n)

    out: dict[str, np.ndarray] = {}
    # Kick: a sine swept down fast, with a click for the beater.
    t = tt(kit.kick_decay * 5)
    f0, f1 = kit.kick_hz
    freq = f1 + (f0 - f1) * np.exp(-t / kit.kick_sweep)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / kit.kick_decay)
    click = _bandpass(noise(len(t)), 1500, 6000, sr) * np.exp(-t / 0.004) * kit.kick_click
    out["kick"] = _norm(np.tanh(kit.kick_drive * (body + click)))
    # Snare: a tuned membrane plus band-passed rattle.
    t = tt(kit.snare_decay * 5)
    tone = (np.sin(2 * np.pi * kit.snare_hz * t) + 0.5 * np.sin(2 * np.pi * kit.snare_hz * 1.6 * t)) * np.exp(-t / 0.06)
    rattle = _bandpass(noise(len(t)), *kit.snare_band, sr) * np.exp(-t / kit.snare_decay)
    rattle /= np.max(np.abs(rattle)) or 1.0
    out["snare"] = _norm((1 - kit.snare_noise) * tone + kit.snare_noise * rattle)
    # Clap: several hands a few ms apart, then a short room tail.
    t = tt(0.4)
    bursts = sum(np.exp(-np.clip(t - d, 0, None) / 0.005) * (t >= d) for d in (0.0, 0.009, 0.018, 0.028))
    env = 0.7 * bursts + 0.5 * np.exp(-np.clip(t - 0.028, 0, None) / 0.11) * (t >= 0.028)
    out["clap"] = _norm(_bandpass(noise(len(t)), 900, 3500, sr) * env)
    # Rim shot: a high knock.
    t = tt(0.08)
    out["rim"] = _norm(np.sin(2 * np.pi * 1700 * t) * np.exp(-t / 0.012) + 0.6 * _bandpass(noise(len(t)), 2000, 6000, sr) * np.exp(-t / 0.008))
    # Hats and cymbals: metal plus noise, high-passed.
    for name, dur, decay, cut in (("hat", 0.25, kit.hat_decay, 7000), ("ohat", 0.8, 0.22, 6500), ("ride", 1.2, 0.4, 5000), ("crash", 2.5, 0.9, 4000)):
        t = tt(dur)
        src = kit.hat_metal * _metal(t, 1.6 if name != "ride" else 1.9) + (1 - kit.hat_metal) * noise(len(t))
        env = np.exp(-t / decay)
        if name == "ride":
            env = 0.6 * env + 0.4 * np.exp(-t / 0.03)
        out[name] = _norm(_highpass(src, cut, sr, 4) * env)
    # Shaker: band-passed noise with a soft attack.
    t = tt(0.15)
    env = np.clip(t / 0.012, 0, 1) * np.exp(-np.clip(t - 0.012, 0, None) / 0.04)
    out["shaker"] = _norm(_bandpass(noise(len(t)), 4000, 10000, sr) * env)
    # Style percussion.
    t = tt(0.6)
    p, hz = kit.perc, kit.perc_hz
    if p == "conga":
        y = np.sin(2 * np.pi * np.cumsum(hz * (1 + 0.15 * np.exp(-t / 0.01))) / sr) * np.exp(-t / 0.16)
    elif p == "timbale":
        y = (np.sin(2 * np.pi * hz * t) + 0.6 * np.sin(2 * np.pi * hz * 1.48 * t)) * np.exp(-t / 0.22)
        y += 0.8 * _bandpass(noise(len(t)), 2000, 7000, sr) * np.exp(-t / 0.03)
    elif p == "cowbell":
        y = _bandpass(_square(540 * t, 540 / sr) + _square(800 * t, 800 / sr), 500, 3000, sr) * np.exp(-t / 0.12)
    elif p == "tom":
        y = np.sin(2 * np.pi * np.cumsum(hz * (1 + 0.4 * np.exp(-t / 0.05))) / sr) * np.exp(-t / 0.25)
    elif p in ("rim", "clave"):
        y = np.sin(2 * np.pi * hz * t) * np.exp(-t / (0.015 if p == "rim" else 0.04))
    elif p == "ride":
        y = out["ride"]
    else:  # shaker
        y = out["shaker"]
    out["perc"] = _norm(y)
    return out


# Mix levels per drum voice, before the style's own drum gain.
_DRUM_LEVEL = {
    "kick": 0.5, "snare": 0.7, "clap": 0.6, "rim": 0.45, "hat": 0.22, "ohat": 0.2,
    "ride": 0.2, "shaker": 0.2, "perc": 0.3, "crash": 0.3,
}
# Which arrangement layer each drum voice belongs to (sections switch layers on and off).
_DRUM_LAYER = {
    "kick": "kick", "snare": "snare", "clap": "snare", "rim": "snare", "hat": "hats",
    "ohat": "hats", "ride": "hats", "shaker": "hats", "perc": "perc",
}
# Mix level and reverb send per track.
_TRACK_LEVEL = {"drums": 1.0, "bass": 0.26, "keys": 0.4, "pad": 0.3, "lead": 0.42, "arp": 0.22}
_REVERB_SEND = {"drums": 0.12, "bass": 0.0, "keys": 0.35, "pad": 0.6, "lead": 0.45, "arp": 0.5}
_VELOCITY = {"X": 1.0, "x": 0.8, "o": 0.55, "g": 0.3}


# --------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class StyleSpec:
    """Everything that makes a style: tempo, meter, harmony, patterns, sounds and mix.

    Patterns are strings on a sixteenth grid (``beats_per_bar * 4`` steps per bar, longer ones
    cycle over several bars). Drums: ``X x o g`` are hits from loud to ghost, ``.`` is silence.
    Bass: ``R`` root, ``O`` octave, ``F`` fifth, ``T`` third, ``B`` root on even bars and fifth on
    odd ones (lowercase = softer). Keys: ``C`` the chord, ``c`` softer, ``1 3 5 7 8`` single chord
    tones (8 = octave). In both, ``-`` holds the previous note and ``.`` rests.
    """

    name: str
    tempo_range: tuple[float, float]
    beats_per_bar: int
    modes: tuple[str, ...]
    progressions: dict[str, tuple[tuple[int, ...], ...]]  # mode -> chord roots as scale degrees
    chord_beats: int
    drums: dict[str, str]
    bass: tuple[str, ...]
    keys: tuple[str, ...]
    kit: str
    bass_insts: tuple[str, ...]
    keys_insts: tuple[str, ...]
    pad_insts: tuple[str, ...]  # "" = no pad
    lead_insts: tuple[str, ...]
    chorus_drums: dict[str, str] = field(default_factory=dict)  # added or replaced in choruses
    arp: str = ""  # keys-style pattern for a chorus arpeggiator
    arp_insts: tuple[str, ...] = ("pluck",)
    sevenths: bool = False
    swing: float = 0.5  # share of a swung pair given to its first note (0.5 = straight)
    swing_unit: int = 1  # steps per swung unit: 1 = sixteenths, 2 = eighths
    lead_grid: int = 2  # melody rhythm grid in steps
    lead_density: float = 0.5
    sidechain: float = 0.0  # pumping of bass/keys/pad by the kick
    reverb: float = 0.25
    echo: float = 0.0  # dotted-eighth echo on the lead
    drum_gain: float = 1.0
    drum_levels: dict[str, float] = field(default_factory=dict)  # per-voice level overrides
    fill: str = "snare"  # voice for build-up rolls


_MAJOR_POP = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 5, 4))
_MINOR_POP = ((0, 5, 2, 6), (0, 3, 6, 2), (0, 5, 3, 6))

STYLES: dict[str, StyleSpec] = {
    s.name: s
    for s in [
        StyleSpec(
            "house", (118, 128), 4, ("minor", "minor", "major"),
            {"minor": _MINOR_POP + ((0, 0, 5, 6),), "major": _MAJOR_POP[:2]}, 4,
            {"kick": "X...X...X...X...", "clap": "....X.......X...", "hat": "g.g.g.g.g.g.g.g.", "ohat": "..x...x...x...x."},
            ("..R-..R-..R-..R-", "..R...O...R..FO.", "R..R..R.R..R..R."),
            ("C..C..C.C..C..C.", "...C..C....C..C.", "C-..C-..C-..C-.."),
            "house", ("saw_bass", "fm_bass"), ("piano", "organ"), ("pad", "strings"),
            ("saw_lead", "square_lead"),
            chorus_drums={"shaker": "ogxgogxgogxgogxg"}, arp="1.3.5.8.5.3.1.3.", arp_insts=("pluck",),
            sidechain=0.55, reverb=0.3, echo=0.3, lead_density=0.45,
        ),
        StyleSpec(
            "hiphop", (84, 98), 4, ("minor", "minor", "major"),
            {"minor": ((0, 3), (0, 5, 3, 4), (0, 6, 5, 6), (0, 0, 3, 3)), "major": ((1, 4, 0, 0), (0, 5, 1, 4))}, 4,
            {"kick": "X......x..X.....X.x.......X..x..", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R-.....r..R-....R-.r......R-.r..", "R---......F-.R..", "R-....R...R-...."),
            ("C-----..C-----..", "C-------C---C---", "C-.C-----...C---"),
            "boom", ("sub808", "finger", "fm_bass"), ("epiano", "piano", "pluck"), ("", "strings"),
            ("bell", "flute", "epiano", "square_lead"),
            chorus_drums={"clap": "....x.......x..."},
            sevenths=True, swing=0.6, swing_unit=1, lead_density=0.35, reverb=0.2,
        ),
        StyleSpec(
            "pop", (100, 124), 4, ("major", "major", "minor"),
            {"major": _MAJOR_POP, "minor": _MINOR_POP}, 4,
            {"kick": "X.....x.X.......", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R.R.R.R.R.R.R.R.", "R--.R-.RR--.R-..", "R-..R-.R..R-R-.."),
            ("C-.C-.C-C-.C-.C-", "1.3.5.3.1.3.5.3.", "C---C---C---C-C-"),
            "pop", ("finger", "fm_bass"), ("piano", "pluck"), ("pad", "strings"),
            ("square_lead", "flute", "bell"),
            chorus_drums={"clap": "....X.......X...", "ohat": "..............x."},
            arp="1.5.8.5.1.5.8.5.", arp_insts=("pluck", "bell"), lead_density=0.55, reverb=0.3,
        ),
        StyleSpec(
            "dembow", (88, 100), 4, ("minor",),
            {"minor": _MINOR_POP + ((0, 3, 0, 6),)}, 4,
            {"kick": "X...X...X...X...", "snare": "...x..x....x..x.", "hat": "x.x.x.x.x.x.x.x."},
            ("R-..R-..R-..R-..", "R---R---R---F---", "R-------R---F---"),
            # Chords stay on the beat: with the snare's 3+3+2 on top, a tresillo comp makes beat
            # trackers hear dotted eighths (4/3 of the tempo), an off-beat comp shifts their beats.
            ("C-..C-..C-..C-..", "C---C---C---C---", "C-------C-------"),
            "latin", ("sub808",), ("pluck", "epiano"), ("pad",),
            ("square_lead", "flute"),
            chorus_drums={"perc": "..o...o...o...o."}, arp="1.3.5.3.8.3.5.3.", arp_insts=("bell",),
            sidechain=0.25, lead_density=0.5, reverb=0.25, fill="perc", drum_levels={"snare": 0.5, "hat": 0.3},
        ),
        StyleSpec(
            "dnb", (160, 175), 4, ("minor",),
            {"minor": ((0, 5), (0, 5, 2, 6), (0, 3), (0, 6, 5, 6))}, 8,
            {"kick": "X.........X.....X.X.......x.....", "snare": "....X..g.g..X..g....X..g.g..X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R-------------F-", "R-------R---O-R-", "R-----R-----F---"),
            ("C---------------", "C-------........", "........C-------"),
            "dnb", ("reese", "saw_bass"), ("epiano", "bell"), ("strings", "pad"),
            ("bell", "flute", "saw_lead"),
            chorus_drums={"ride": "o.o.o.o.o.o.o.o.", "shaker": "gogogogogogogogo"},
            lead_grid=4, lead_density=0.5, reverb=0.35, echo=0.3,
        ),
        StyleSpec(
            "ballad", (66, 80), 4, ("major", "minor"),
            {"major": _MAJOR_POP, "minor": _MINOR_POP}, 4,
            {"kick": "X.......x.o.....", "snare": "....o.......o...", "hat": "o.g.o.g.o.g.o.g."},
            ("R-------F-------", "R-------R---F---", "R-----------R-F-"),
            ("1.3.5.8.5.3.5.3.", "1.5.8.5.3.5.8.5.", "C-------C---C---"),
            "soft", ("finger", "tuba"), ("piano", "epiano"), ("strings", "pad"),
            ("flute", "epiano", "strings"),
            chorus_drums={"snare": "....x.......x..."},
            lead_grid=2, lead_density=0.3, reverb=0.5, drum_gain=0.7,
        ),
        StyleSpec(
            "waltz", (90, 174), 3, ("major", "major", "minor"),
            {"major": ((0, 3, 4, 0), (0, 4, 4, 0), (0, 5, 1, 4), (0, 0, 3, 4)), "minor": ((0, 3, 4, 0), (0, 5, 3, 4))}, 3,
            {"kick": "X...........", "snare": "....g...g...", "hat": "x...o...o..."},
            ("B---........", "B-------....", "B---....F-.."),
            ("....C-..C-..", "....C...C...", "....c-..C-.."),
            "soft", ("tuba",), ("accordion", "piano"), ("strings",),
            ("strings", "flute", "accordion"),
            chorus_drums={"ride": "x...o...o..."},
            lead_density=0.55, reverb=0.4, drum_gain=0.8, fill="perc",
        ),
        StyleSpec(
            "funk", (96, 112), 4, ("minor",),
            {"minor": ((0, 3), (0, 0, 3, 3), (0, 3, 0, 4))}, 4,
            # Syncopated, but every part keeps more hits a beat apart than three sixteenths apart,
            # or beat trackers hear 4/3 of the tempo.
            {"kick": "X.x.....X..x....", "snare": "....X..g....X...", "hat": "xgogxgogxgogxgog"},
            ("R-.RO-.RR-.RO-.F", "R-.RO-..R-.RO..F", "R-.RO...R-.RO..."),
            ("..C.C.C...C.C.C.", "..CC..C...CC..C.", "C.C...C.C.C...C."),
            "funk", ("slap", "finger"), ("clav", "epiano", "organ"), ("organ", ""),
            ("brass", "saw_lead", "square_lead"),
            chorus_drums={"perc": "x..x..x...x.x...", "ohat": "..............x."},
            sevenths=True, swing=0.54, lead_density=0.5, reverb=0.15,
        ),
        StyleSpec(
            "rock", (110, 150), 4, ("major", "minor"),
            {"major": ((0, 3, 4, 3), (0, 4, 5, 3), (0, 3, 0, 4)), "minor": ((0, 6, 5, 6), (0, 5, 6, 0), (0, 3, 6, 0))}, 4,
            {"kick": "X.......X.x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
            ("R.R.R.R.R.R.R.R.", "R.R.R.R.R.R.F.O."),
            ("C.C.C.C.C.C.C.C.", "C-------C---C---", "C-.C-.C-C-.C-.C-"),
            "rock", ("finger",), ("power",), ("organ", ""),
            ("dist_lead", "saw_lead"),
            chorus_drums={"kick": "X.x.....X.x.....", "ride": "x.x.x.x.x.x.x.x.", "hat": ""},
            lead_density=0.5, reverb=0.2, fill="perc",
        ),
        StyleSpec(
            "reggae", (68, 88), 4, ("major", "minor"),
            {"major": ((0, 3), (0, 3, 4, 3), (0, 4, 3, 4)), "minor": ((0, 3), (0, 6, 5, 6), (0, 3, 0, 6))}, 4,
            {"kick": "........X.......", "rim": "........X.......", "hat": "x.o.x.o.x.o.x.o."},
            ("..R-.R..F-..O-..", "R--.....F-.RO-.F", "R-..R-.F..R-O-.."),
            ("..C...C...C...C.", "..c...C...c...C."),
            "reggae", ("finger", "sub808"), ("organ", "pluck"), ("organ", ""),
            ("flute", "square_lead", "bell"),
            chorus_drums={"shaker": "g.o.g.o.g.o.g.o."},
            # A light shuffle: at 0.6 and more, trackers place their beats between the beat and the skank.
            swing=0.55, swing_unit=2, lead_density=0.4, reverb=0.3, echo=0.4,
        ),
        StyleSpec(
            "trap", (130, 150), 4, ("minor",),
            {"minor": ((0, 5), (0, 3, 5, 4), (0, 6, 5, 6))}, 8,
            {"kick": "X.........X..X..X.....X...X.....", "snare": "........X.......", "hat": "xgxgxgxgxgxgxgxgxgxgxgxgxgxgxxxx"},
            ("R---------R--R--R-----R---R-----", "R-------R-------"),
            ("C-------........", "1..3..5.8..5..3."),
            "808", ("sub808",), ("bell", "piano"), ("pad", "strings"),
            ("bell", "flute", "square_lead"),
            chorus_drums={"clap": "........X......."},
            lead_density=0.4, reverb=0.3, echo=0.25,
        ),
    ]
}


# --------------------------------------------------------------------------- result


@dataclass
class SynthSong:
    """A synthesized song with its true beat grid and intended dynamics."""

    y: np.ndarray  # mono float32, peak about 0.9
    sr: int
    style: str
    tempo: float  # BPM
    key: str  # e.g. "A minor"
    beat_times: np.ndarray  # seconds of every beat
    beat_energy: np.ndarray  # intended loudness 0..1 per beat
    sections: list[tuple[str, int, int]]  # (name, first beat, end beat)
    beats_per_bar: int = 4
    instruments: dict[str, str] = field(default_factory=dict)  # role -> instrument name

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr


# --------------------------------------------------------------------------- arrangement

# Intended loudness per section and the layers that play in it.
_SECTION_ENERGY = {"intro": 0.25, "verse": 0.6, "build": 0.55, "chorus": 1.0, "breakdown": 0.2, "outro": 0.3}
_SECTION_LAYERS = {
    "intro": {"kick", "hats", "keys", "pad"},
    "verse": {"kick", "snare", "hats", "bass", "keys", "lead"},
    "build": {"kick", "snare", "hats", "perc", "bass", "keys", "pad", "fill"},
    "chorus": {"kick", "snare", "hats", "perc", "bass", "keys", "pad", "lead", "arp", "crash"},
    "breakdown": {"hats", "keys", "pad", "lead"},
    "outro": {"kick", "hats", "bass", "keys", "pad"},
}
# Section templates as (name, weight in bars); scaled to the song's length.
_TEMPLATES_SHORT = (
    (("intro", 2), ("verse", 4), ("chorus", 4), ("breakdown", 2)),
    (("intro", 2), ("verse", 3), ("build", 1), ("chorus", 4), ("outro", 2)),
    (("intro", 2), ("verse", 4), ("breakdown", 2), ("chorus", 4)),
)
_TEMPLATES_LONG = (
    (("intro", 2), ("verse", 4), ("chorus", 4), ("breakdown", 2), ("chorus", 4), ("outro", 2)),
    (("intro", 2), ("verse", 4), ("build", 2), ("chorus", 4), ("breakdown", 2), ("chorus", 4)),
    (("intro", 2), ("verse", 4), ("chorus", 4), ("verse", 4), ("build", 1), ("chorus", 4)),
)


def _plan_sections(n_beats: int, bpb: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Split the song into sections on bar lines, following a template scaled to its length."""
    n_bars = math.ceil(n_beats / bpb)
    if n_bars < 4:
        names = [("intro", 1), ("chorus", max(n_bars - 1, 1))][: max(n_bars, 1)]
        template: tuple[tuple[str, int], ...] = tuple(names)
    else:
        pool = _TEMPLATES_LONG if n_bars >= 18 else _TEMPLATES_SHORT
        template = pool[int(rng.integers(len(pool)))]
    weights = np.array([w for _, w in template], dtype=float)
    share = weights / weights.sum() * n_bars
    bars = np.maximum(np.floor(share).astype(int), 1)
    for i in np.argsort(-(share - np.floor(share))):  # largest remainders get the spare bars
        if bars.sum() >= n_bars:
            break
        bars[i] += 1
    while bars.sum() > n_bars:  # too many minimum-1 sections: shrink the longest
        bars[int(np.argmax(bars))] -= 1
    sections, start = [], 0
    for (name, _), nb in zip(template, bars):
        if nb <= 0:
            continue
        end = min((start // bpb + nb) * bpb, n_beats)
        if end > start:
            sections.append((name, start, end))
        start = end
    if start < n_beats:  # a partial last bar joins the last section
        name, s0, _ = sections[-1]
        sections[-1] = (name, s0, n_beats)
    return sections


def _beat_energy(sections: list[tuple[str, int, int]], n_beats: int, rng: np.random.Generator) -> np.ndarray:
    energy = np.zeros(n_beats)
    for name, b0, b1 in sections:
        level = _SECTION_ENERGY[name] + float(rng.uniform(-0.04, 0.04))
        if name == "build":  # rises into the chorus
            energy[b0:b1] = np.linspace(0.5, 0.85, b1 - b0)
        else:
            energy[b0:b1] = level
    return np.clip(energy, 0.05, 1.0)


@dataclass
class _Grid:
    """Times of sixteenth steps, with swing."""

    t0: float
    beat: float
    spb: int
    swing: float
    unit: int

    def time(self, step: float) -> float:
        base = self.t0 + step * self.beat / self.spb
        pos = int(step) % (2 * self.unit)
        if self.swing != 0.5 and pos == self.unit and step == int(step):
            base += (2 * self.swing - 1) * self.unit * self.beat / self.spb
        return base


def _chord_roots(sections: list[tuple[str, int, int]], n_beats: int, prog: tuple[int, ...], chord_beats: int) -> np.ndarray:
    """Chord root (scale degree) per beat; every section starts the progression afresh."""
    roots = np.zeros(n_beats, dtype=int)
    for _, b0, b1 in sections:
        idx = (np.arange(b0, b1) - b0) // chord_beats
        roots[b0:b1] = np.asarray(prog)[idx % len(prog)]
    return roots


def _chord_spans(sections: list[tuple[str, int, int]], roots: np.ndarray) -> list[tuple[int, int]]:
    """(first beat, end beat) of every stretch with one chord; a new section always starts a new chord."""
    cuts = {b0 for _, b0, _ in sections} | {int(b) for b in np.flatnonzero(np.diff(roots)) + 1}
    edges = sorted(cuts | {len(roots)})
    return list(zip(edges[:-1], edges[1:]))


def _chord_degrees(root: int, sevenths: bool) -> list[int]:
    return [root, root + 2, root + 4] + ([root + 6] if sevenths else [])


def _snap(degree: int, root: int) -> int:
    """Nearest degree that is a tone of the triad on ``root``."""
    for off in (0, -1, 1, -2, 2, -3, 3):
        if (degree + off - root) % 7 in (0, 2, 4):
            return degree + off
    return degree


def _motif(rng: np.random.Generator, steps: int, spb: int, grid: int, density: float, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """A short melodic idea: (step, length in steps, scale degree) — rhythm first, then a walk over the scale."""
    onsets = []
    for s in range(0, steps, grid):
        strong = s % spb == 0
        p = density + (0.25 if strong else -0.1)
        if s >= steps - spb:  # breathe at the end of the phrase
            p *= 0.4
        if s == 0 or rng.random() < p:
            onsets.append(s)
    notes = []
    deg = int(rng.integers(lo, lo + 5))
    for i, s in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else steps
        length = min(nxt - s, 2 * spb)
        deg += int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
        if deg < lo or deg > hi:
            deg = int(np.clip(2 * (lo if deg < lo else hi) - deg, lo, hi))  # reflect at the range edge
        notes.append((s, length, deg))
    return notes


def _tokens(pattern: str, total_steps: int) -> str:
    return (pattern * (total_steps // len(pattern) + 1))[:total_steps]


def _held_notes(tokens: str) -> list[tuple[int, str, int]]:
    """(step, token, length in steps) for every note token; ``-`` extends, anything else ends a note."""
    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ".-":
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and tokens[j] == "-":
            j += 1
        out.append((i, tok, j - i))
        i = j
    return out


# --------------------------------------------------------------------------- rendering helpers


def _add(buf: np.ndarray, start: int, x: np.ndarray, gain: float) -> None:
    if start >= len(buf) or gain == 0.0:
        return
    end = min(start + len(x), len(buf))
    if start < 0:
        x, start = x[-start:], 0
    buf[start:end] += gain * x[: end - start]


def _reverb_ir(sr: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Decaying noise with a darker tail: a cheap but convincing room."""
    t = np.arange(int(seconds * sr)) / sr
    n = rng.standard_normal(len(t)) * np.exp(-t * 6.9 / seconds)
    n = _lowpass(n, 5000, sr) * 0.6 + _lowpass(n, 1500, sr) * 0.4
    n[: int(0.012 * sr)] = 0.0  # pre-delay keeps the dry attack clear
    return n / np.sqrt(np.sum(n * n))


def _vary(inst: Instrument, rng: np.random.Generator) -> Instrument:
    """Per-seed timbre variation: brightness and decay move a little."""
    return replace(
        inst,
        bright=float(np.clip(inst.bright * rng.uniform(0.75, 1.25), 0.1, 1.0)),
        decay=float(inst.decay * rng.uniform(0.8, 1.25)),
    )


# --------------------------------------------------------------------------- synthesis


def _style_rng(style: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(style.encode())])


@dataclass
class _Song:
    """The plan shared by every part: grid, sections, layers, harmony, and a cache of rendered notes."""

    spec: StyleSpec
    scale: _Scale
    sr: int
    n: int  # samples
    n_beats: int
    grid: _Grid
    sections: list[tuple[str, int, int]]
    layers: list[set[str]]  # per section
    roots: np.ndarray  # chord root (scale degree) per beat
    rng: np.random.Generator
    notes: dict[tuple[Instrument, int, int], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spb = STEPS_PER_BEAT
        self.bpb = self.spec.beats_per_bar
        self.total_steps = self.n_beats * self.spb
        self.step_samples = self.grid.beat / self.spb * self.sr
        self.section_of_beat = np.empty(self.n_beats, dtype=int)
        for i, (_, b0, b1) in enumerate(self.sections):
            self.section_of_beat[b0:b1] = i

    def section(self, step: int) -> str:
        return self.sections[self.section_of_beat[min(step // self.spb, self.n_beats - 1)]][0]

    def plays(self, layer: str, step: int) -> bool:
        return layer in self.layers[self.section_of_beat[min(step // self.spb, self.n_beats - 1)]]

    def start(self, step: int) -> int:
        return int(round(self.grid.time(step) * self.sr))

    def root(self, step: int) -> int:
        return int(self.roots[min(step // self.spb, self.n_beats - 1)])

    def n_on(self, steps: float) -> int:
        return int(round(steps * self.step_samples))

    def tone(self, inst: Instrument, midi: int, n_on: int) -> np.ndarray:
        """A rendered note, loudness-normalized; repeated notes are rendered once."""
        k = (inst, midi, n_on)
        if k not in self.notes:
            self.notes[k] = _render_tone(inst, midi, n_on, self.sr) * _loudness_norm(inst, self.sr)
        return self.notes[k]

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]


def _render_drums(song: _Song) -> tuple[np.ndarray, list[int]]:
    """Drum track and the sample positions of its kicks (for side-chain ducking)."""
    spec, rng = song.spec, song.rng
    kit = KITS[spec.kit]
    kit = replace(kit, kick_decay=kit.kick_decay * float(rng.uniform(0.85, 1.15)), hat_decay=kit.hat_decay * float(rng.uniform(0.8, 1.3)))
    sounds = _drum_sounds(kit, song.sr, rng)
    buf = np.zeros(song.n)
    kicks: list[int] = []
    chorus_pats = {**spec.drums, **spec.chorus_drums}
    for voice in sorted(set(chorus_pats)):
        verse = _tokens(spec.drums[voice], song.total_steps) if spec.drums.get(voice) else ""
        chorus = _tokens(chorus_pats[voice], song.total_steps) if chorus_pats[voice] else ""
        level = spec.drum_levels.get(voice, _DRUM_LEVEL[voice]) * spec.drum_gain
        jitter = rng.normal(1.0, 0.06, song.total_steps)  # a drummer never hits twice the same
        for step in range(song.total_steps):
            toks = chorus if song.section(step) == "chorus" else verse
            if not toks or toks[step] not in _VELOCITY or not song.plays(_DRUM_LAYER[voice], step):
                continue
            at = song.start(step)
            _add(buf, at, sounds[voice], level * _VELOCITY[toks[step]] * jitter[step])
            if voice == "kick":
                kicks.append(at)
    # A crash opens every chorus; rolls rise through build-ups and lead into choruses.
    spb = song.spb
    fill = sounds[spec.fill if spec.fill in sounds else "snare"]
    for i, (name, b0, b1) in enumerate(song.sections):
        if name == "chorus":
            _add(buf, song.start(b0 * spb), sounds["crash"], _DRUM_LEVEL["crash"] * spec.drum_gain)
        nxt = song.sections[i + 1][0] if i + 1 < len(song.sections) else ""
        roll: list[int] = []
        if name == "build":
            half = (b0 + b1) // 2
            roll = list(range(b0 * spb, half * spb, 2)) + list(range(half * spb, b1 * spb))
        elif nxt == "chorus" and name != "intro":
            roll = list(range((b1 - 1) * spb, b1 * spb))
        for j, step in enumerate(roll):
            _add(buf, song.start(step), fill, _DRUM_LEVEL["snare"] * spec.drum_gain * (0.3 + 0.6 * (j + 1) / len(roll)))
    return buf, kicks


def _render_bass(song: _Song, inst: Instrument, pattern: str) -> np.ndarray:
    buf = np.zeros(song.n)
    low = 36  # C2: low enough to feel, high enough for small speakers
    toks = _tokens(pattern, song.total_steps)
    for step, tok, length in _held_notes(toks):
        if not song.plays("bass", step):
            continue
        deg = song.root(step)
        root = song.scale.midi(deg, low)
        kind = tok.upper()
        if kind == "B":  # oom-pah bass: root on even bars, the fifth below on odd ones
            kind = "R" if (step // song.spb // song.bpb) % 2 == 0 else "f"
        offset = {"R": 0, "O": 12, "F": song.scale.midi(deg + 4, low) - root, "T": song.scale.midi(deg + 2, low) - root}
        offset["f"] = offset["F"] - 12
        end = step + length
        gate = 0.92 if end < song.total_steps and toks[end] == "." else 1.0  # detached before a rest
        vel = 0.65 if tok.islower() and tok != "b" else 0.9
        _add(buf, song.start(step), song.tone(inst, root + offset[kind], song.n_on(length * gate)), vel)
    return buf


def _render_comp(song: _Song, role: str, inst: Instrument, pattern: str, center: int, vel: float) -> np.ndarray:
    """Chords (``C``), single chord tones (``1 3 5 7 8``) or power chords, voiced near ``center``."""
    buf = np.zeros(song.n)
    toks = _tokens(pattern, song.total_steps)
    sevenths = song.spec.sevenths
    for step, tok, length in _held_notes(toks):
        if not song.plays(role, step):
            continue
        degs = _chord_degrees(song.root(step), sevenths)
        if inst.kind == "power":  # the instrument adds fifth and octave itself
            midis = [_place(song.scale.midi(degs[0], 0), 40)]
        elif tok.upper() == "C":
            # Each tone in the octave around the centre: smooth voice leading for free.
            midis = sorted(_place(song.scale.midi(d, 0), center - 6) for d in degs)
        else:
            which = {"1": 0, "3": 1, "5": 2, "7": 3 if sevenths else 0, "8": 0}[tok]
            midis = [_place(song.scale.midi(degs[which], 0), center - 6) + (12 if tok == "8" else 0)]
        end = step + length
        staccato = length == 1 and end < song.total_steps and toks[end] == "."
        n_on = song.n_on(length * (0.6 if staccato else 0.95))
        gain = vel * (0.6 if tok == "c" else 1.0) / math.sqrt(len(midis))
        for m in midis:
            _add(buf, song.start(step), song.tone(inst, m, n_on), gain)
    return buf


def _render_melody(song: _Song, inst: Instrument) -> np.ndarray:
    """Motif A in verses and breakdowns, a higher, busier motif B in choruses.

    Motifs repeat over changing chords; notes on the beat (and long ones) snap to a chord tone,
    and every second phrase ends on the chord's root, so the line always fits the harmony.
    """
    spec, spb = song.spec, song.spb
    buf = np.zeros(song.n)
    motif_steps = 2 * song.bpb * spb
    motifs = {
        "A": _motif(song.rng, motif_steps, spb, spec.lead_grid, spec.lead_density, 0, 7),
        "B": _motif(song.rng, motif_steps, spb, spec.lead_grid, min(spec.lead_density + 0.15, 0.9), 3, 10),
    }
    for i, (name, b0, b1) in enumerate(song.sections):
        if "lead" not in song.layers[i]:
            continue
        motif = motifs["B" if name == "chorus" else "A"]
        s0, s1 = b0 * spb, b1 * spb
        for r in range(math.ceil((s1 - s0) / motif_steps)):
            for j, (s, length, deg) in enumerate(motif):
                step = s0 + r * motif_steps + s
                if step >= s1:
                    break
                root = song.root(step)
                if r % 2 == 1 and j == len(motif) - 1:
                    deg = root + 7 * ((deg - root) // 7)
                if s % spb == 0 or length >= spb:
                    deg = _snap(deg, root)
                n_on = song.n_on(min(length, s1 - step) * 0.92)
                vel = 0.55 if name == "breakdown" else 0.85
                _add(buf, song.start(step), song.tone(inst, song.scale.midi(deg, 62), n_on), vel)
    return buf


def _mix(song: _Song, tracks: dict[str, np.ndarray], insts: dict[str, Instrument], kicks: list[int], energy: np.ndarray) -> np.ndarray:
    """Filters, side-chain, echo and reverb; then the section dynamics and the master clean-up."""
    spec, sr, n = song.spec, song.sr, song.n
    for role, inst in insts.items():
        if role in tracks and inst.lowpass:
            tracks[role] = _lowpass(tracks[role], inst.lowpass, sr)
    if spec.sidechain > 0 and kicks:
        # Duck the sustained parts after each kick: the "pumping" of dance music.
        idx = np.arange(n)
        kt = np.asarray(kicks)
        last = np.searchsorted(kt, idx, side="right") - 1
        since = np.where(last >= 0, (idx - kt[np.clip(last, 0, None)]) / sr, 10.0)
        duck = 1.0 - spec.sidechain * np.exp(-since / 0.09)
        for role in ("bass", "keys", "pad"):
            if role in tracks:
                tracks[role] = tracks[role] * duck
    if spec.echo > 0 and "lead" in tracks:  # dotted-eighth echoes, darker each time
        d = int(round(0.75 * song.grid.beat * sr))
        y = tracks["lead"]
        wet = np.zeros(n)
        for k in (1, 2, 3):
            if k * d < n:
                wet[k * d :] += spec.echo**k * y[: n - k * d]
        tracks["lead"] = y + _lowpass(wet, 3000, sr)

    dry = np.zeros(n)
    send = np.zeros(n)
    for role, buf in tracks.items():
        dry += _TRACK_LEVEL[role] * buf
        send += _TRACK_LEVEL[role] * _REVERB_SEND[role] * buf
    ir = _reverb_ir(sr, float(song.rng.uniform(1.2, 2.2)), song.rng)
    mix = dry + 1.6 * spec.reverb * signal.oaconvolve(send, ir)[:n]

    # Section dynamics: a per-beat master gain, smoothed over 20 ms so changes never click.
    beat_starts = np.round((song.grid.t0 + song.grid.beat * np.arange(song.n_beats)) * sr).astype(int)
    which = np.clip(np.searchsorted(beat_starts, np.arange(n), side="right") - 1, 0, song.n_beats - 1)
    gain_db = DYNAMIC_RANGE_DB * (energy - 1.0)
    mix *= uniform_filter1d(10.0 ** (gain_db[which] / 20.0), size=int(0.02 * sr))

    mix = _highpass(mix, 35.0, sr)  # no DC, no sub-rumble
    fade = min(int(0.2 * sr), n)
    mix[n - fade :] *= np.linspace(1.0, 0.0, fade)
    fade_in = int(0.005 * sr)
    mix[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
    mix -= mix.mean()
    return mix * (PEAK / (float(np.max(np.abs(mix))) or 1.0))


def synthesize_song(
    style: str,
    tempo: float | None = None,
    key: str | None = None,
    n_beats: int = 48,
    seed: int = 0,
    sr: int = SR,
) -> SynthSong:
    """Synthesize one song of ``style``.

    Parameters
    ----------
    style : str
        A key of :data:`STYLES`.
    tempo : float, optional
        Beats per minute; drawn from the style's range when omitted.
    key : str, optional
        e.g. ``"A minor"``; drawn from the style's modes when omitted.
    n_beats : int
        Number of beats; the song ends shortly after the last one.
    seed : int
        Same seed, same samples.
    sr : int
        Sample rate.

    Returns
    -------
    SynthSong
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {sorted(STYLES)}")
    if n_beats < 1:
        raise ValueError("n_beats must be at least 1")
    spec = STYLES[style]
    rng = _style_rng(style, seed)
    if tempo is None:
        tempo = round(float(rng.uniform(*spec.tempo_range)), 1)
    if not 20.0 <= tempo <= 300.0:
        raise ValueError(f"tempo {tempo} BPM is out of range")
    if key is None:
        key = f"{NOTE_NAMES[int(rng.integers(12))]} {spec.modes[int(rng.integers(len(spec.modes)))]}"
    tonic_pc, mode = parse_key(key)
    key = f"{NOTE_NAMES[tonic_pc]} {mode}"
    progs = spec.progressions.get(mode) or next(iter(spec.progressions.values()))
    prog = progs[int(rng.integers(len(progs)))]

    beat = 60.0 / tempo
    t0 = round(float(rng.uniform(0.1, 0.3)), 3)
    beat_times = t0 + beat * np.arange(n_beats)
    sections = _plan_sections(n_beats, spec.beats_per_bar, rng)
    layers = [set(_SECTION_LAYERS[name]) for name, _, _ in sections]
    if sections[0][0] == "intro" and rng.random() < 0.4:
        layers[0].discard("kick")  # some intros start on hats alone
    song = _Song(
        spec=spec,
        scale=_Scale(tonic_pc, mode),
        sr=sr,
        n=int(round((beat_times[-1] + beat + 0.25) * sr)),
        n_beats=n_beats,
        grid=_Grid(t0, beat, STEPS_PER_BEAT, spec.swing, spec.swing_unit),
        sections=sections,
        layers=layers,
        roots=_chord_roots(sections, n_beats, prog, spec.chord_beats),
        rng=rng,
    )
    energy = _beat_energy(sections, n_beats, rng)

    keys = song.pick(spec.keys_insts)
    choice = {
        "bass": song.pick(spec.bass_insts),
        "keys": keys,
        "pad": song.pick(spec.pad_insts),
        # The melody should stand out from the chords, so it gets another timbre when the style has one.
        "lead": song.pick(tuple(i for i in spec.lead_insts if i != keys) or spec.lead_insts),
        "arp": song.pick(spec.arp_insts) if spec.arp else "",
    }
    insts = {role: _vary(INSTRUMENTS[name], rng) for role, name in choice.items() if name}

    tracks: dict[str, np.ndarray] = {}
    tracks["drums"], kicks = _render_drums(song)
    tracks["bass"] = _render_bass(song, insts["bass"], song.pick(spec.bass))
    tracks["keys"] = _render_comp(song, "keys", insts["keys"], song.pick(spec.keys), 62, 0.9)
    if "pad" in insts:  # one held chord per chord change
        spans = _chord_spans(sections, song.roots)
        pad = "".join("C" + "-" * ((b1 - b0) * STEPS_PER_BEAT - 1) for b0, b1 in spans)
        tracks["pad"] = _render_comp(song, "pad", insts["pad"], pad, 57, 0.7)
    if "arp" in insts:
        tracks["arp"] = _render_comp(song, "arp", insts["arp"], spec.arp, 74, 0.5)
    tracks["lead"] = _render_melody(song, insts["lead"])
    y = _mix(song, tracks, insts, kicks, energy)

    return SynthSong(
        y=y.astype(np.float32),
        sr=sr,
        style=style,
        tempo=float(tempo),
        key=key,
        beat_times=beat_times,
        beat_energy=energy,
        sections=sections,
        beats_per_bar=spec.beats_per_bar,
        instruments=choice | {"drums": spec.kit},
    )



# --------------------------------------------------------------------------- demo plan


def demo_song_plan(n_songs: int = 40, seed: int = 0) -> list[dict]:
    """A deterministic plan of ``n_songs`` songs covering every style, tempo range and many keys.

    Styles take turns in shuffled rounds (so any ``n_songs >= len(STYLES)`` has them all); each
    style's songs spread over its tempo range (so the plan as a whole spans about 66–175 BPM);
    tonics walk through all twelve; ``n_beats`` is a multiple of 24 (whole
    8-beat segments and whole 3/4 bars) giving songs of roughly 20–45 s.

    Returns
    -------
    list of dict
        Keyword arguments for :func:`synthesize_song`: style, tempo, key, n_beats, seed.
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 7919])
    names = list(STYLES)
    order: list[str] = []
    while len(order) < n_songs:
        order += [names[i] for i in rng.permutation(len(names))]
    order = order[:n_songs]
    counts = {s: order.count(s) for s in names}
    seen = {s: 0 for s in names}
    tonics = rng.permutation(12)
    plan = []
    for i, style in enumerate(order):
        spec = STYLES[style]
        lo, hi = spec.tempo_range
        k, c = seen[style], counts[style]
        seen[style] += 1
        # Evenly spaced over the style's range, ends included, with a little jitter.
        frac = 0.5 if c == 1 else k / (c - 1)
        tempo = round(lo + (hi - lo) * float(np.clip(frac + rng.uniform(-0.08, 0.08) / c, 0, 1)), 1)
        mode = spec.modes[int(rng.integers(len(spec.modes)))]
        key = f"{NOTE_NAMES[int(tonics[i % 12])]} {mode}"
        n_beats = int(np.clip(round(tempo * 30 / 60 / 24), 2, 4) * 24)
        plan.append({"style": style, "tempo": tempo, "key": key, "n_beats": n_beats, "seed": int(seed) * 1000 + i})
    return plan
