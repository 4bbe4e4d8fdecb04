"""The song synthesizer of the starter library: a style, a tempo and a key in, a song out.

A fresh machine has no songs, so the starter library synthesizes its own: drums, a bass line,
chords, a pad and a melody (:mod:`.instruments`, built on :mod:`.dsp`), arranged in sections
(intro, verse, build, chorus, breakdown, outro; :mod:`.arrangement`) whose loudness differs by
well over 12 dB. Every music style (:mod:`.music_styles`) has its own tempo range, drum patterns,
swing and instrument palette, so a music-similarity index can tell the styles apart, and every
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

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

from . import dsp
from .arrangement import (NOTE_NAMES, SECTION_LAYERS, Grid, Scale, chord_degrees, chord_roots, chord_spans,
                          energy_per_beat, held_notes, make_motif, parse_key, place, plan_sections, snap, tokens)
from .instruments import INSTRUMENTS, KITS, Instrument, drum_sounds, loudness_norm, render_tone, vary
from .music_styles import STYLES, StyleSpec

__all__ = ["SynthSong", "demo_song_plan", "synthesize_song"]

SR = 22050
STEPS_PER_BEAT = 4  # patterns are written on a sixteenth-note grid
DYNAMIC_RANGE_DB = 18.0  # master gain between energy 0 and energy 1
PEAK = 0.9

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
    n = dsp.lowpass(n, 5000, sr) * 0.6 + dsp.lowpass(n, 1500, sr) * 0.4
    n[: int(0.012 * sr)] = 0.0  # pre-delay keeps the dry attack clear
    return n / np.sqrt(np.sum(n * n))


# --------------------------------------------------------------------------- synthesis


def _style_rng(style: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(style.encode())])


@dataclass
class _Song:
    """The plan shared by every part: grid, sections, layers, harmony, and a cache of rendered notes."""

    spec: StyleSpec
    scale: Scale
    sr: int
    n: int  # samples
    n_beats: int
    grid: Grid
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
            self.notes[k] = render_tone(inst, midi, n_on, self.sr) * loudness_norm(inst, self.sr)
        return self.notes[k]

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]


def _render_drums(song: _Song) -> tuple[np.ndarray, list[int]]:
    """Drum track and the sample positions of its kicks (for side-chain ducking)."""
    spec, rng = song.spec, song.rng
    kit = KITS[spec.kit]
    kit = replace(kit, kick_decay=kit.kick_decay * float(rng.uniform(0.85, 1.15)), hat_decay=kit.hat_decay * float(rng.uniform(0.8, 1.3)))
    sounds = drum_sounds(kit, song.sr, rng)
    buf = np.zeros(song.n)
    kicks: list[int] = []
    chorus_pats = {**spec.drums, **spec.chorus_drums}
    for voice in sorted(set(chorus_pats)):
        verse = tokens(spec.drums[voice], song.total_steps) if spec.drums.get(voice) else ""
        chorus = tokens(chorus_pats[voice], song.total_steps) if chorus_pats[voice] else ""
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
    toks = tokens(pattern, song.total_steps)
    for step, tok, length in held_notes(toks):
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
    toks = tokens(pattern, song.total_steps)
    sevenths = song.spec.sevenths
    for step, tok, length in held_notes(toks):
        if not song.plays(role, step):
            continue
        degs = chord_degrees(song.root(step), sevenths)
        if inst.kind == "power":  # the instrument adds fifth and octave itself
            midis = [place(song.scale.midi(degs[0], 0), 40)]
        elif tok.upper() == "C":
            # Each tone in the octave around the centre: smooth voice leading for free.
            midis = sorted(place(song.scale.midi(d, 0), center - 6) for d in degs)
        else:
            which = {"1": 0, "3": 1, "5": 2, "7": 3 if sevenths else 0, "8": 0}[tok]
            midis = [place(song.scale.midi(degs[which], 0), center - 6) + (12 if tok == "8" else 0)]
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
        "A": make_motif(song.rng, motif_steps, spb, spec.lead_grid, spec.lead_density, 0, 7),
        "B": make_motif(song.rng, motif_steps, spb, spec.lead_grid, min(spec.lead_density + 0.15, 0.9), 3, 10),
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
                    deg = snap(deg, root)
                n_on = song.n_on(min(length, s1 - step) * 0.92)
                vel = 0.55 if name == "breakdown" else 0.85
                _add(buf, song.start(step), song.tone(inst, song.scale.midi(deg, 62), n_on), vel)
    return buf


def _mix(song: _Song, tracks: dict[str, np.ndarray], insts: dict[str, Instrument], kicks: list[int], energy: np.ndarray) -> np.ndarray:
    """Filters, side-chain, echo and reverb; then the section dynamics and the master clean-up."""
    spec, sr, n = song.spec, song.sr, song.n
    for role, inst in insts.items():
        if role in tracks and inst.lowpass:
            tracks[role] = dsp.lowpass(tracks[role], inst.lowpass, sr)
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
        tracks["lead"] = y + dsp.lowpass(wet, 3000, sr)

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

    mix = dsp.highpass(mix, 35.0, sr)  # no DC, no sub-rumble
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
    sections = plan_sections(n_beats, spec.beats_per_bar, rng)
    layers = [set(SECTION_LAYERS[name]) for name, _, _ in sections]
    if sections[0][0] == "intro" and rng.random() < 0.4:
        layers[0].discard("kick")  # some intros start on hats alone
    song = _Song(
        spec=spec,
        scale=Scale(tonic_pc, mode),
        sr=sr,
        n=int(round((beat_times[-1] + beat + 0.25) * sr)),
        n_beats=n_beats,
        grid=Grid(t0, beat, STEPS_PER_BEAT, spec.swing, spec.swing_unit),
        sections=sections,
        layers=layers,
        roots=chord_roots(sections, n_beats, prog, spec.chord_beats),
        rng=rng,
    )
    energy = energy_per_beat(sections, n_beats, rng)

    keys = song.pick(spec.keys_insts)
    choice = {
        "bass": song.pick(spec.bass_insts),
        "keys": keys,
        "pad": song.pick(spec.pad_insts),
        # The melody should stand out from the chords, so it gets another timbre when the style has one.
        "lead": song.pick(tuple(i for i in spec.lead_insts if i != keys) or spec.lead_insts),
        "arp": song.pick(spec.arp_insts) if spec.arp else "",
    }
    insts = {role: vary(INSTRUMENTS[name], rng) for role, name in choice.items() if name}

    tracks: dict[str, np.ndarray] = {}
    tracks["drums"], kicks = _render_drums(song)
    tracks["bass"] = _render_bass(song, insts["bass"], song.pick(spec.bass))
    tracks["keys"] = _render_comp(song, "keys", insts["keys"], song.pick(spec.keys), 62, 0.9)
    if "pad" in insts:  # one held chord per chord change
        spans = chord_spans(sections, song.roots)
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
