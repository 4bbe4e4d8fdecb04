"""How a song is choreographed from the move vocabulary.

:func:`choreograph` sequences moves of one dance style over a song's beats: moves change on
8-beat phrases (12 in waltz) and blend over half a beat, their size follows the loudness of
every beat, and their hits (the key poses, where the body's speed dips) land on the beats.
A song of the synthesizer is danced in the dance style its music style maps to
(:data:`DANCE_STYLE_OF_MUSIC`).

>>> import numpy as np
>>> take = choreograph(np.arange(0, 10, 0.5), 10.0, 25.0, "pop", np.ones(20), seed=1)
>>> take.world.shape
(250, 33, 3)
>>> take.landmarks().shape
(250, 33, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .keyframes import hit, smootherstep
from .moves import IDLE, Move, favourite_weights, moves_for_style
from .skeleton import PARAM_NAMES, forward_kinematics, mirror_params, project

__all__ = ["DANCE_STYLE_OF_MUSIC", "DanceTake", "choreograph", "dance_style_for"]

#: The dance style (:data:`moves.STYLES`) each music style of the synthesizer
#: (:data:`music_styles.STYLES`) is danced in; a test fails when a music style is missing.
DANCE_STYLE_OF_MUSIC: dict[str, str] = {
    # The vocabulary was made for these seven: each has moves and favourites of its own.
    "house": "house",
    "hiphop": "hiphop",
    "pop": "pop",
    "dembow": "dembow",
    "dnb": "dnb",
    "ballad": "ballad",
    "waltz": "waltz",
    # These four came to the synthesizer without moves of their own and have always danced pop
    # (through the fallback for unknown names, moves.FALLBACK_STYLE); written out here, they still
    # do, so the starter library stays the same for the same seed. Pop's pool is the broadest
    # (19 of the 24 moves, energies 0.15-0.95), so it has something for each: funk's syncopated
    # 4/4 at 96-112 BPM and rock's straight 4/4 at 110-150 BPM get pop's step-touches, claps,
    # points and kicks; reggae's slow skank (68-88 BPM) its quiet sways and body rolls; trap
    # (130-150 BPM) dances pop at half time above 145 BPM like any fast song. Closer homes (say
    # hiphop for trap, dembow for reggae) would change the library: a change of its own.
    "funk": "pop",
    "rock": "pop",
    "reggae": "pop",
    "trap": "pop",
}


def dance_style_for(music_style: str) -> str:
    """The dance style a song of ``music_style`` is danced in; ValueError for a music style
    that has none (every one of the synthesizer's has)."""
    try:
        return DANCE_STYLE_OF_MUSIC[music_style]
    except KeyError:
        raise ValueError(f"no dance style for music style {music_style!r}") from None


@dataclass
class DanceTake:
    """A generated dance: world joints per frame and the moves used.

    ``moves`` holds ``(name, first_beat, n_beats)`` in indices of the song's ``beat_times``.
    """

    world: np.ndarray                       # (T, 33, 3)
    moves: list[tuple[str, int, int]]
    fps: float
    dance_style: str
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


def _plan(rng: np.random.Generator, dance_style: str, n_beats: int, amp_beats: np.ndarray):
    """Blocks ``(move, start, length, mirrored)`` in dance beats covering ``[0, n_beats)``."""
    pool = moves_for_style(dance_style)
    fav = favourite_weights(dance_style)
    phrase = 12 if dance_style == "waltz" else 8
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


def choreograph(beat_times: np.ndarray, duration: float, fps: float, dance_style: str,
                beat_energy: np.ndarray, seed: int = 0) -> DanceTake:
    """Sequence moves that suit ``dance_style`` to a song's beats.

    Parameters
    ----------
    beat_times : beat onsets in seconds (increasing).
    duration : length of the dance in seconds; frames at ``np.arange(round(duration*fps)) / fps``.
    fps : frame rate.
    dance_style : one of :data:`moves.STYLES` (anything else dances like pop); a song of the
        synthesizer gets :func:`dance_style_for` its music style.
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
    step = 2 if period < 60.0 / 145.0 and dance_style != "waltz" else 1
    # The moves pass through their key poses half a beat after each onset; the dance runs half
    # a beat late so those arrivals - the hits, where the body's speed dips - land on the beats
    # (a kinematic beat is a minimum of speed; `choreo bench plan` measures the alignment).
    ph = (song_ph - HIT_DELAY_BEATS) / step

    e = _normalise_energy(energy)
    if len(e) == 0:
        e = np.full(1, 0.6)
    # beats past the last one keep the last energy
    last_beat = int(math.ceil(float(song_ph.max()))) + 2 if n_frames else 1
    e_ext = np.concatenate([e, np.full(max(0, last_beat - len(e)), e[-1])])
    n_dance = int(math.ceil(len(e_ext) / step))
    e_dance = np.array([e_ext[i * step:(i + 1) * step].mean() for i in range(n_dance)])
    amp_beats = 0.1 + 0.9 * e_dance
    if dance_style in ("ballad", "waltz"):
        amp_beats = 0.1 + 0.75 * e_dance

    rng = np.random.default_rng(seed)
    total = int(math.ceil(float(ph.max()))) + 1 if n_frames else 0
    blocks = _plan(rng, dance_style, max(total, 0), amp_beats)

    params = np.zeros((n_frames, len(PARAM_NAMES)))
    amp_t = _amp_track(ph, amp_beats) if n_frames else np.zeros(0)
    bw = 0.25  # half the blend window, in beats
    segs: list[tuple[Move, float, float, bool]] = [(IDLE, -math.inf, 0.0, False)]
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
        if m is IDLE:
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
    return DanceTake(world=world.astype(np.float32), moves=moves, fps=float(fps), dance_style=dance_style,
                     params=params, amplitude=amp_t, beat_phase=song_ph)
