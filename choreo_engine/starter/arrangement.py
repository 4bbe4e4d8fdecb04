"""The synthesizer's arrangement: keys and scales, sections and their loudness, the sixteenth grid
with swing, chord progressions, melodic motifs and the pattern strings parts are written in.

These decide *what* plays *when*; :mod:`choreo_engine.starter.synth` renders it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "NOTE_NAMES", "SCALES", "SECTION_LAYERS", "Grid", "Scale", "chord_degrees", "chord_roots", "chord_spans",
    "energy_per_beat", "held_notes", "make_motif", "parse_key", "place", "plan_sections", "snap", "tokens",
]

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


@dataclass(frozen=True)
class Scale:
    """Scale degrees (any integer, 7 per octave) to MIDI numbers."""

    tonic_pc: int
    mode: str

    def midi(self, degree: int, base: int) -> int:
        """MIDI note of ``degree``, where degree 0 is the tonic in [base, base + 12)."""
        tonic = base + (self.tonic_pc - base) % 12
        steps = SCALES[self.mode]
        return tonic + 12 * (degree // 7) + steps[degree % 7]


def place(midi: int, low: int) -> int:
    """The same pitch class moved into [low, low + 12)."""
    return low + (midi - low) % 12

# --------------------------------------------------------------------------- arrangement

# Intended loudness per section and the layers that play in it.
_SECTION_ENERGY = {"intro": 0.25, "verse": 0.6, "build": 0.55, "chorus": 1.0, "breakdown": 0.2, "outro": 0.3}
SECTION_LAYERS = {
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


def plan_sections(n_beats: int, bpb: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
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


def energy_per_beat(sections: list[tuple[str, int, int]], n_beats: int, rng: np.random.Generator) -> np.ndarray:
    energy = np.zeros(n_beats)
    for name, b0, b1 in sections:
        level = _SECTION_ENERGY[name] + float(rng.uniform(-0.04, 0.04))
        if name == "build":  # rises into the chorus
            energy[b0:b1] = np.linspace(0.5, 0.85, b1 - b0)
        else:
            energy[b0:b1] = level
    return np.clip(energy, 0.05, 1.0)


@dataclass
class Grid:
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


def chord_roots(sections: list[tuple[str, int, int]], n_beats: int, prog: tuple[int, ...], chord_beats: int) -> np.ndarray:
    """Chord root (scale degree) per beat; every section starts the progression afresh."""
    roots = np.zeros(n_beats, dtype=int)
    for _, b0, b1 in sections:
        idx = (np.arange(b0, b1) - b0) // chord_beats
        roots[b0:b1] = np.asarray(prog)[idx % len(prog)]
    return roots


def chord_spans(sections: list[tuple[str, int, int]], roots: np.ndarray) -> list[tuple[int, int]]:
    """(first beat, end beat) of every stretch with one chord; a new section always starts a new chord."""
    cuts = {b0 for _, b0, _ in sections} | {int(b) for b in np.flatnonzero(np.diff(roots)) + 1}
    edges = sorted(cuts | {len(roots)})
    return list(zip(edges[:-1], edges[1:]))


def chord_degrees(root: int, sevenths: bool) -> list[int]:
    return [root, root + 2, root + 4] + ([root + 6] if sevenths else [])


def snap(degree: int, root: int) -> int:
    """Nearest degree that is a tone of the triad on ``root``."""
    for off in (0, -1, 1, -2, 2, -3, 3):
        if (degree + off - root) % 7 in (0, 2, 4):
            return degree + off
    return degree


def make_motif(rng: np.random.Generator, steps: int, spb: int, grid: int, density: float, lo: int, hi: int) -> list[tuple[int, int, int]]:
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


def tokens(pattern: str, total_steps: int) -> str:
    return (pattern * (total_steps // len(pattern) + 1))[:total_steps]


def held_notes(tokens: str) -> list[tuple[int, str, int]]:
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
