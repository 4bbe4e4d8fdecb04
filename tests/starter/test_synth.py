"""The procedural music of the starter library: deterministic, on its beat grid, dynamic, and varied by style."""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import pytest
from scipy.stats import spearmanr

from choreo_engine.starter.arrangement import parse_key
from choreo_engine.starter.music_styles import STYLES
from choreo_engine.starter.synth import SynthSong, demo_song_plan, synthesize_song

TEMPO_TOLERANCE = 0.04  # relative; librosa's tempo is quantized to its 23 ms hop
MIN_DYNAMIC_RANGE_DB = 12.0
MIN_SPEARMAN = 0.5


@lru_cache(maxsize=None)
def song(style: str, which: str) -> SynthSong:
    """Three songs per style, shared between tests: low and high end of its tempo range, and a default one."""
    lo, hi = STYLES[style].tempo_range
    if which == "low":
        return synthesize_song(style, tempo=lo, seed=1)
    if which == "high":
        return synthesize_song(style, tempo=hi, seed=2)
    return synthesize_song(style, seed=3)


def beat_rms_db(s: SynthSong) -> np.ndarray:
    """RMS level in dB of each beat's span (beat to next beat)."""
    edges = np.append(s.beat_times, s.beat_times[-1] + 60.0 / s.tempo)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        seg = s.y[int(a * s.sr) : int(b * s.sr)].astype(np.float64)
        out.append(10.0 * np.log10(np.mean(seg * seg) + 1e-12))
    return np.array(out)


def test_same_seed_same_samples_different_seed_different() -> None:
    a = synthesize_song("pop", seed=11, n_beats=16)
    b = synthesize_song("pop", seed=11, n_beats=16)
    c = synthesize_song("pop", seed=12, n_beats=16)
    assert np.array_equal(a.y, b.y)
    assert (a.tempo, a.key, a.sections) == (b.tempo, b.key, b.sections)
    assert np.array_equal(a.beat_energy, b.beat_energy)
    assert len(a.y) != len(c.y) or not np.allclose(a.y, c.y)
    # Same tempo and key, different seed: still different music.
    d = synthesize_song("pop", tempo=110, key="D major", seed=1, n_beats=16)
    e = synthesize_song("pop", tempo=110, key="D major", seed=2, n_beats=16)
    m = min(len(d.y), len(e.y))  # the first beat's offset differs too
    assert np.abs(d.y[:m] - e.y[:m]).max() > 0.1


@pytest.mark.parametrize("style", sorted(STYLES))
def test_signal_and_grid(style: str) -> None:
    s = song(style, "default")
    assert s.y.dtype == np.float32 and s.y.ndim == 1
    assert np.isfinite(s.y).all()
    assert 0.85 <= np.abs(s.y).max() <= 0.9 + 1e-6  # peak-normalized, never clipped
    assert abs(float(np.mean(s.y, dtype=np.float64))) < 1e-4  # no DC
    lo, hi = STYLES[style].tempo_range
    assert lo <= s.tempo <= hi
    beat = 60.0 / s.tempo
    assert len(s.beat_times) == len(s.beat_energy) == 48
    assert np.allclose(np.diff(s.beat_times), beat)
    assert 0.1 <= s.beat_times[0] <= 0.3
    assert s.beat_times[-1] + beat <= s.duration <= s.beat_times[-1] + beat + 0.5
    assert ((s.beat_energy >= 0) & (s.beat_energy <= 1)).all()
    # Sections tile the beats in order.
    assert s.sections[0][1] == 0 and s.sections[-1][2] == 48
    assert all(a[2] == b[1] for a, b in zip(s.sections, s.sections[1:]))
    assert all(b0 < b1 for _, b0, b1 in s.sections)
    assert s.beats_per_bar == STYLES[style].beats_per_bar
    assert all(b0 % s.beats_per_bar == 0 for _, b0, _ in s.sections)


def test_waltz_is_in_three() -> None:
    assert STYLES["waltz"].beats_per_bar == 3
    assert all(spec.beats_per_bar == 4 for name, spec in STYLES.items() if name != "waltz")


def test_required_styles_and_tempo_ranges() -> None:
    for name in ("house", "hiphop", "pop", "dembow", "dnb", "ballad", "waltz"):
        assert name in STYLES
    lo, hi = STYLES["dnb"].tempo_range
    assert lo >= 160 and hi <= 176


@pytest.mark.parametrize("which", ["low", "high"])
@pytest.mark.parametrize("style", sorted(STYLES))
def test_beat_tracker_finds_the_tempo(style: str, which: str) -> None:
    s = song(style, which)
    est = float(np.atleast_1d(librosa.beat.beat_track(y=s.y, sr=s.sr)[0])[0])
    ratios = [est / (s.tempo * m) for m in (1.0, 2.0, 0.5)]
    assert any(abs(r - 1.0) <= TEMPO_TOLERANCE for r in ratios), f"{style} at {s.tempo} BPM heard as {est:.1f}"


@pytest.mark.parametrize("style", sorted(STYLES))
def test_loudness_follows_beat_energy(style: str) -> None:
    s = song(style, "default")
    db = beat_rms_db(s)
    rho = spearmanr(db, s.beat_energy).statistic
    assert rho > MIN_SPEARMAN, f"{style}: Spearman {rho:.2f}"
    spread = np.percentile(db, 95) - np.percentile(db, 5)
    assert spread >= MIN_DYNAMIC_RANGE_DB, f"{style}: only {spread:.1f} dB between loud and quiet beats"
    # The loudest section is a chorus and is louder than the quietest section.
    by_section = {(name, b0): float(np.median(db[b0:b1])) for name, b0, b1 in s.sections}
    assert max(by_section, key=by_section.get)[0] == "chorus"


def test_demo_plan_covers_styles_tempos_and_keys() -> None:
    plan = demo_song_plan(40)
    assert len(plan) == 40
    assert plan == demo_song_plan(40)
    assert plan != demo_song_plan(40, seed=1)
    assert {p["style"] for p in plan} == set(STYLES)
    tempos = np.array([p["tempo"] for p in plan])
    assert tempos.min() <= 80 and tempos.max() >= 160
    assert len(np.unique(np.round(tempos))) >= 30  # spread, not a handful of values
    tonics = {parse_key(p["key"])[0] for p in plan}
    assert len(tonics) >= 10
    assert {parse_key(p["key"])[1] for p in plan} == {"major", "minor"}
    assert len({p["seed"] for p in plan}) == 40
    for p in plan:
        lo, hi = STYLES[p["style"]].tempo_range
        assert lo <= p["tempo"] <= hi
        assert p["n_beats"] % 24 == 0  # whole 8-beat segments and whole 3/4 bars
    first = synthesize_song(**plan[0])
    assert first.tempo == plan[0]["tempo"] and len(first.beat_times) == plan[0]["n_beats"]


def test_styles_are_distinguishable() -> None:
    """Mean MFCC + chroma: songs of one style sit closer together than songs of different styles."""
    names, feats = [], []
    for style in sorted(STYLES):
        for which in ("low", "high", "default"):
            s = song(style, which)
            mfcc = librosa.feature.mfcc(y=s.y, sr=s.sr, n_mfcc=20).mean(axis=1)
            chroma = librosa.feature.chroma_stft(y=s.y, sr=s.sr).mean(axis=1)
            names.append(style)
            feats.append(np.concatenate([mfcc, chroma]))
    x = np.array(feats)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)  # every feature counts, not only MFCC 0
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    labels = np.array(names)
    same = labels[:, None] == labels[None, :]
    off_diag = ~np.eye(len(labels), dtype=bool)
    intra, inter = d[same & off_diag].mean(), d[~same].mean()
    assert intra < inter, f"intra {intra:.2f} vs inter {inter:.2f}"
    # Most styles on their own, too.
    per_style = [d[(labels == st)[:, None] & same & off_diag].mean() < d[(labels == st)[:, None] & ~same].mean() for st in STYLES]
    assert sum(per_style) >= len(STYLES) - 1


def test_parse_key_and_bad_inputs() -> None:
    assert parse_key("A minor") == (9, "minor")
    assert parse_key("Bb") == (10, "major")
    assert synthesize_song("ballad", key="Eb major", n_beats=8).key == "D# major"
    with pytest.raises(ValueError):
        parse_key("H minor")
    with pytest.raises(ValueError):
        synthesize_song("polka")
    with pytest.raises(ValueError):
        synthesize_song("pop", n_beats=0)
