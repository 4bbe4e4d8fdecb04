"""Does the music index find a segment again after the audio is altered?

Each library segment is cut out, altered (pitch-shifted +-1 semitone, time-stretched +-5 %,
noise at 20 dB SNR) and queried against an index fitted on the unaltered segments: a hit is
the original among the top ``n``. Used by the tests (on a few tracks) and by
``choreo bench retrieval`` (on all the shared tracks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..music import audio, features
from ..music.index import MusicIndex

AUGMENTATIONS = ("pitch+1", "pitch-1", "stretch+5%", "stretch-5%", "noise20dB")


def augment(y: np.ndarray, sr: int, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The altered clip and its time scale (new duration / old duration)."""
    import librosa

    if kind.startswith("pitch"):
        return librosa.effects.pitch_shift(y, sr=sr, n_steps=1 if kind == "pitch+1" else -1), 1.0
    if kind.startswith("stretch"):
        rate = 1.05 if kind == "stretch+5%" else 0.95
        return librosa.effects.time_stretch(y, rate=rate), 1.0 / rate
    if kind == "noise20dB":
        power = float(np.mean(y**2))
        noise = rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (20 / 10))
        return (y + noise).astype(np.float32), 1.0
    raise ValueError(kind)


@dataclass
class SegmentClip:
    track: str
    y: np.ndarray
    beats: np.ndarray  # relative to the clip's start


def library_from_tracks(paths: list[Path], kind: str = "default") -> tuple[np.ndarray, list[SegmentClip]]:
    """Descriptors of every segment of the tracks (in song context) and the segments' audio."""
    descriptors, clips = [], []
    for path in paths:
        y, analysis = audio.load_and_analyze(path)
        frames = features.song_frames(y)
        for seg in analysis.segments:
            descriptors.append(features.describe_segment(frames, seg.start, seg.end, seg.beats, kind))
            lo, hi = int(seg.start * audio.SAMPLE_RATE), int(seg.end * audio.SAMPLE_RATE)
            clips.append(SegmentClip(path.name, y[lo:hi], seg.beats - seg.start))
    return np.stack(descriptors), clips


def evaluate(paths: list[Path], kind: str = "default", n: int = 6, seed: int = 0) -> dict:
    descriptors, clips = library_from_tracks(paths, kind)
    index = MusicIndex(seed=seed).fit(descriptors)
    self_first = sum(index.query(d, n=1)[0].position == i for i, d in enumerate(descriptors))
    rng = np.random.default_rng(seed)
    hits = {a: 0 for a in AUGMENTATIONS}
    for i, clip in enumerate(clips):
        for kind_aug in AUGMENTATIONS:
            y_aug, scale = augment(clip.y, audio.SAMPLE_RATE, kind_aug, rng)
            d = features.describe_clip(y_aug, audio.SAMPLE_RATE, clip.beats * scale, kind)
            hits[kind_aug] += any(m.position == i for m in index.query(d, n=n))
    total = len(clips)
    return {
        "descriptor": kind,
        "tracks": len(paths),
        "segments": total,
        "clusters": index.k,
        "self_ranked_first": round(self_first / total, 4),
        "top6_recall": {a: round(h / total, 4) for a, h in hits.items()},
        "top6_recall_overall": round(sum(hits.values()) / (total * len(AUGMENTATIONS)), 4),
    }


def evaluate_all(max_tracks: int = 0) -> dict:
    from .common import shared_tracks

    paths = shared_tracks()
    if max_tracks:
        paths = paths[:max_tracks]
    return {"benchmark": "retrieval", "results": [evaluate(paths, k) for k in features.DESCRIPTORS]}
