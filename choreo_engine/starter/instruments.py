"""The synthesizer's instruments: tonal voices (one recipe per kind) and drum kits.

A tonal voice renders one note (:func:`render_tone`), loudness-normalised per timbre
(:func:`loudness_norm`) so that mix levels mean the same across instruments; a drum kit renders
one-shot samples for every drum voice (:func:`drum_sounds`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from . import dsp

__all__ = ["INSTRUMENTS", "KITS", "Instrument", "Kit", "drum_sounds", "loudness_norm", "render_tone", "vary"]


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


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


def render_tone(inst: Instrument, midi: int, n_on: int, sr: int) -> np.ndarray:
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
        y *= np.exp(-t / (1.4 * dec)) * dsp.gate(n, n_on, sr, inst.release)
    elif k == "piano":
        kk = np.arange(1, 13)
        amps = kk ** -(1.6 - 0.6 * b) * (1 + 0.6 * np.sin(np.pi * kk * 0.13))
        taus = 1.8 * dec / (1 + 0.45 * (kk - 1)) * (220 / max(f, 110)) ** 0.3
        y = dsp.additive(f, t, amps, taus, sr, stretch=2e-4)
        y *= dsp.gate(n, n_on, sr, inst.release)
    elif k == "pluck":  # plucked string: partials shaped by the pluck point, upper ones die first
        kk = np.arange(1, 16)
        amps = np.abs(np.sin(np.pi * kk * 0.18)) / kk ** (1.3 - 0.5 * b)
        taus = 0.9 * dec / (1 + 0.7 * (kk - 1))
        y = dsp.additive(f, t, amps, taus, sr, stretch=1e-4) * dsp.gate(n, n_on, sr, inst.release)
    elif k == "bell":  # FM with an inharmonic ratio
        index = 3.0 * b * np.exp(-t / 0.5)
        y = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * 3.5 * f * t))
        y *= np.exp(-t / (1.2 * dec)) * dsp.gate(n, n_on, sr, inst.release)
    elif k == "brass":  # FM whose brightness follows the loudness, as in a horn
        env = dsp.env(n, n_on, sr, 0.04, 0.15, 0.8, inst.release)
        y = np.sin(2 * np.pi * f * t + (0.5 + 3.0 * b * env) * np.sin(2 * np.pi * f * t)) * env
    elif k == "organ":
        ratios = np.array([1, 2, 3, 4, 6, 8], dtype=float)
        w = np.array([1.0, 0.8, 0.5 * b + 0.2, 0.35 * b, 0.25 * b, 0.15 * b])
        keep = ratios * f < 0.45 * sr
        y = (w[keep, None] * np.sin(2 * np.pi * f * ratios[keep, None] * t[None, :])).sum(axis=0)
        y *= (1 + 0.12 * np.sin(2 * np.pi * 6.0 * t)) * dsp.env(n, n_on, sr, 0.008, 0.1, 0.85, inst.release)
    elif k in ("pad", "strings"):  # detuned band-limited saws; strings swell faster and vibrate
        detune = 0.004 + 0.006 * b
        vib = 0.004 if k == "strings" else 0.0
        y = sum(dsp.saw(dsp.cycles(f * (1 + dd), t, sr, vib, 5.0 + 300 * dd), dt) for dd in (-detune, 0.0, detune)) / 3
        a = 0.12 if k == "strings" else 0.35
        y *= dsp.env(n, n_on, sr, a * dec, 0.4, 0.85, inst.release)
    elif k == "saw_lead":
        ph = dsp.cycles(f, t, sr, 0.006)
        bright = b * (0.45 + 0.55 * np.exp(-t / 0.25))
        y = bright * dsp.saw(ph, dt) + (1 - bright) * np.sin(2 * np.pi * ph)
        y += 0.3 * dsp.square(ph * 0.5, dt / 2)
        y *= dsp.env(n, n_on, sr, 0.01, 0.2, 0.75, inst.release)
    elif k == "dist_lead":  # overdriven guitar-like lead: saw and square through a soft clipper
        ph = dsp.cycles(f, t, sr, 0.008, 5.5, 0.15)
        y = np.tanh((3.0 + 5.0 * b) * (0.6 * dsp.saw(ph, dt) + 0.4 * dsp.square(ph, dt, 0.3)))
        y *= dsp.env(n, n_on, sr, 0.005, 0.3, 0.8, inst.release)
    elif k == "square_lead":
        ph = dsp.cycles(f, t, sr, 0.005)
        y = dsp.square(ph, dt, 0.5 - 0.3 * b) * dsp.env(n, n_on, sr, 0.01, 0.15, 0.7, inst.release)
    elif k == "clav":  # narrow pulse, fast decay: funky and percussive
        y = dsp.square(f * t, dt, 0.12 + 0.1 * (1 - b)) * np.exp(-t / (0.18 * dec)) * dsp.gate(n, n_on, sr, inst.release)
    elif k == "accordion":  # two reeds slightly apart beat against each other
        y = 0.5 * dsp.square(f * 1.003 * t, dt) + 0.5 * dsp.square(f * 0.997 * t, dt, 0.4) + 0.3 * dsp.saw(f * t, dt)
        y *= dsp.env(n, n_on, sr, 0.03, 0.1, 0.9, inst.release) * (1 + 0.1 * np.sin(2 * np.pi * 5.0 * t))
    elif k == "power":  # distorted power chord: root, fifth, octave through a soft clipper
        y = dsp.saw(f * t, dt) + 0.8 * dsp.saw(f * 1.4983 * t, dt * 1.5) + 0.6 * dsp.saw(2 * f * t, 2 * dt)
        y = np.tanh((2.0 + 4.0 * b) * y / 2.4)
        y *= dsp.env(n, n_on, sr, 0.004, 0.25 * dec, 0.6, inst.release)
    elif k == "flute":
        ph = dsp.cycles(f, t, sr, 0.007, 5.0, 0.2)
        y = np.sin(2 * np.pi * ph) + 0.25 * b * np.sin(4 * np.pi * ph) + 0.1 * np.sin(6 * np.pi * ph)
        breath = np.random.default_rng(midi).standard_normal(n) * 0.05 * b
        y = (y + breath) * dsp.env(n, n_on, sr, 0.06, 0.1, 0.85, inst.release)
    elif k == "sub808":  # sine with a little pitch drop; soft clipping gives small speakers something to play
        ph = np.cumsum(f * (1 + 0.6 * np.exp(-t / 0.03))) / sr
        y = np.tanh((1.5 + 2 * b) * np.sin(2 * np.pi * ph)) * np.exp(-t / (0.9 * dec))
        y *= dsp.gate(n, n_on, sr, inst.release, 0.002)
    elif k == "saw_bass":  # acid-ish: brightness decays after the attack (a filter envelope by cross-fade)
        w = b * (0.25 + 0.75 * np.exp(-t / 0.12))
        y = w * dsp.saw(f * t, dt) + (1 - w) * np.sin(2 * np.pi * f * t)
        y *= dsp.env(n, n_on, sr, 0.004, 0.2 * dec, 0.6, inst.release)
    elif k == "fm_bass":
        index = 0.5 + 2.0 * b * np.exp(-t / 0.15)
        y = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t)) * dsp.env(n, n_on, sr, 0.004, 0.3, 0.6, inst.release)
    elif k == "reese":  # two detuned saws over a sub: the dnb growl
        y = 0.5 * (dsp.saw(f * 1.007 * t, dt) + dsp.saw(f * 0.993 * t, dt)) + 0.8 * np.sin(2 * np.pi * f * t)
        y *= dsp.env(n, n_on, sr, 0.01, 0.1, 0.9, inst.release)
    elif k in ("finger", "slap"):
        kk = np.arange(1, 11)
        slap = k == "slap"
        amps = kk ** (-(1.1 if slap else 1.7) + 0.4 * b)
        taus = (0.5 if slap else 0.9) * dec / (1 + (0.9 if slap else 0.5) * (kk - 1))
        y = dsp.additive(f, t, amps, taus, sr) * dsp.gate(n, n_on, sr, inst.release)
        if slap:
            y += 0.6 * np.sin(2 * np.pi * 4 * f * t) * np.exp(-t / 0.015)
    elif k == "tuba":
        y = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t) + 0.25 * b * np.sin(6 * np.pi * f * t)
        y *= dsp.env(n, n_on, sr, 0.03, 0.1, 0.75, inst.release)
    else:
        raise ValueError(f"unknown instrument kind {k!r}")
    peak = float(np.max(np.abs(y))) or 1.0
    return y / peak


@lru_cache(maxsize=512)
def loudness_norm(inst: Instrument, sr: int) -> float:
    """Gain that brings a reference note of ``inst`` to a common RMS, so mix levels mean the same across timbres."""
    ref = 48 if inst.kind in _BASS_KINDS else 67
    y = render_tone(inst, ref, int(0.5 * sr), sr)[: int(0.5 * sr)]
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


def _norm(y: np.ndarray) -> np.ndarray:
    """Peak 1 with a ~1 ms fade-in so one-shots never click."""
    y = y * np.clip(np.arange(len(y)) / 24.0, 0.0, 1.0)
    return y / (float(np.max(np.abs(y))) or 1.0)


def _metal(t: np.ndarray, scale: float) -> np.ndarray:
    """The 808 trick: six square waves at inharmonic frequencies sound like a cymbal once high-passed."""
    freqs = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0]) * scale
    return np.sign(np.sin(2 * np.pi * freqs[:, None] * t[None, :])).sum(axis=0) / 6


def drum_sounds(kit: Kit, sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
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
    click = dsp.bandpass(noise(len(t)), 1500, 6000, sr) * np.exp(-t / 0.004) * kit.kick_click
    out["kick"] = _norm(np.tanh(kit.kick_drive * (body + click)))
    # Snare: a tuned membrane plus band-passed rattle.
    t = tt(kit.snare_decay * 5)
    tone = (np.sin(2 * np.pi * kit.snare_hz * t) + 0.5 * np.sin(2 * np.pi * kit.snare_hz * 1.6 * t)) * np.exp(-t / 0.06)
    rattle = dsp.bandpass(noise(len(t)), *kit.snare_band, sr) * np.exp(-t / kit.snare_decay)
    rattle /= np.max(np.abs(rattle)) or 1.0
    out["snare"] = _norm((1 - kit.snare_noise) * tone + kit.snare_noise * rattle)
    # Clap: several hands a few ms apart, then a short room tail.
    t = tt(0.4)
    bursts = sum(np.exp(-np.clip(t - d, 0, None) / 0.005) * (t >= d) for d in (0.0, 0.009, 0.018, 0.028))
    env = 0.7 * bursts + 0.5 * np.exp(-np.clip(t - 0.028, 0, None) / 0.11) * (t >= 0.028)
    out["clap"] = _norm(dsp.bandpass(noise(len(t)), 900, 3500, sr) * env)
    # Rim shot: a high knock.
    t = tt(0.08)
    out["rim"] = _norm(np.sin(2 * np.pi * 1700 * t) * np.exp(-t / 0.012) + 0.6 * dsp.bandpass(noise(len(t)), 2000, 6000, sr) * np.exp(-t / 0.008))
    # Hats and cymbals: metal plus noise, high-passed.
    for name, dur, decay, cut in (("hat", 0.25, kit.hat_decay, 7000), ("ohat", 0.8, 0.22, 6500), ("ride", 1.2, 0.4, 5000), ("crash", 2.5, 0.9, 4000)):
        t = tt(dur)
        src = kit.hat_metal * _metal(t, 1.6 if name != "ride" else 1.9) + (1 - kit.hat_metal) * noise(len(t))
        env = np.exp(-t / decay)
        if name == "ride":
            env = 0.6 * env + 0.4 * np.exp(-t / 0.03)
        out[name] = _norm(dsp.highpass(src, cut, sr, 4) * env)
    # Shaker: band-passed noise with a soft attack.
    t = tt(0.15)
    env = np.clip(t / 0.012, 0, 1) * np.exp(-np.clip(t - 0.012, 0, None) / 0.04)
    out["shaker"] = _norm(dsp.bandpass(noise(len(t)), 4000, 10000, sr) * env)
    # Style percussion.
    t = tt(0.6)
    p, hz = kit.perc, kit.perc_hz
    if p == "conga":
        y = np.sin(2 * np.pi * np.cumsum(hz * (1 + 0.15 * np.exp(-t / 0.01))) / sr) * np.exp(-t / 0.16)
    elif p == "timbale":
        y = (np.sin(2 * np.pi * hz * t) + 0.6 * np.sin(2 * np.pi * hz * 1.48 * t)) * np.exp(-t / 0.22)
        y += 0.8 * dsp.bandpass(noise(len(t)), 2000, 7000, sr) * np.exp(-t / 0.03)
    elif p == "cowbell":
        y = dsp.bandpass(dsp.square(540 * t, 540 / sr) + dsp.square(800 * t, 800 / sr), 500, 3000, sr) * np.exp(-t / 0.12)
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


def vary(inst: Instrument, rng: np.random.Generator) -> Instrument:
    """Per-seed timbre variation: brightness and decay move a little."""
    return replace(
        inst,
        bright=float(np.clip(inst.bright * rng.uniform(0.75, 1.25), 0.1, 1.0)),
        decay=float(inst.decay * rng.uniform(0.8, 1.25)),
    )
