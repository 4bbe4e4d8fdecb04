"""Sections of a song: where the music changes character, which sections repeat, and their labels.

Works at the granularity of the song's segments (8-counts), so a section is a run of whole
parts and a repeat maps part to part:

1. Each segment is described by its beat-synchronous chroma as a sequence (the first count's
   beats, 12 per beat: the chords in order) and its mean MFCC (timbre, z-scored over the song).
2. ``librosa.segment.agglomerative`` joins neighbouring segments into ``n_sections`` contiguous
   sections (about one per ``SEGMENTS_PER_SECTION`` parts, i.e. 8 bars of 4).
3. Two sections repeat when their parts, aligned from their starts, are similar:
   the mean cosine along the aligned diagonal of the segment similarity matrix is at least
   ``REPEAT_SIMILARITY`` and stands out from the song's typical pair (``REPEAT_Z`` spreads
   above the mean of all section pairs), so a loop that is the same everywhere is not "all
   chorus". Repeats are grouped transitively; the group id is the first section's index.
4. Labels: the repeated group with the loudest beats is the "chorus", other repeated groups
   "verse"; a section that does not repeat is the "intro" at the start, the "outro" at the end,
   and a "bridge" in between. A song of one section is one "verse".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS_PER_SECTION = 4
MIN_SECTION_SEGMENTS = 2
REPEAT_SIMILARITY = 0.75
REPEAT_Z = 0.5
CHROMA_WEIGHT = 0.7  # against timbre in the segment similarity
LABELS = ("intro", "verse", "chorus", "bridge", "outro")


@dataclass
class Section:
    """A run of segments ``[first, end)`` with its label and repeat group."""

    label: str
    group: int  # sections with the same group repeat each other
    first: int  # first segment
    end: int  # one past the last segment
    start: float  # seconds
    stop: float

    @property
    def n_segments(self) -> int:
        return self.end - self.first

    def to_dict(self) -> dict:
        return {"label": self.label, "group": self.group, "first_segment": self.first, "end_segment": self.end,
                "start": round(self.start, 4), "end": round(self.stop, 4)}

    @classmethod
    def from_dict(cls, d: dict) -> "Section":
        return cls(d["label"], int(d["group"]), int(d["first_segment"]), int(d["end_segment"]),
                   float(d["start"]), float(d["end"]))


def motif_sources(sections: list[Section], n_segments: int) -> list[int | None]:
    """Per segment, the segment at the same place in the first section of its repeat group, when
    that section comes earlier; None otherwise."""
    out: list[int | None] = [None] * n_segments
    first_of: dict[int, Section] = {}
    for section in sorted(sections, key=lambda s: s.first):
        origin = first_of.setdefault(section.group, section)
        if origin is section:
            continue
        for seg in range(section.first, min(section.end, n_segments)):
            source = origin.first + (seg - section.first)
            if source < origin.end:
                out[seg] = source
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9)


def segment_similarity(y: np.ndarray, analysis, sr: int, hop_length: int, power: np.ndarray | None = None) -> np.ndarray:
    """(S, S) similarity of the song's segments (chroma sequence and timbre, see the module doc)."""
    import librosa

    segments = analysis.segments
    count = min(len(s.beats) for s in segments)
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop_length)) ** 2 if power is None else power
    chroma = librosa.feature.chroma_stft(S=stft, sr=sr, hop_length=hop_length)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(librosa.feature.melspectrogram(S=stft, sr=sr, n_mels=64)),
                                n_mfcc=13)[1:]
    n_frames = chroma.shape[1]
    beat_frames = np.clip(librosa.time_to_frames(analysis.beats, sr=sr, hop_length=hop_length), 0, n_frames - 1)
    chroma_beats = librosa.util.sync(chroma, beat_frames, aggregate=np.mean).T  # (B + 1, 12)
    seq, timbre = [], []
    first = 0
    for seg in segments:
        rows = chroma_beats[first: first + count]
        if len(rows) < count:
            rows = np.vstack([rows, np.zeros((count - len(rows), 12))])
        seq.append(_unit(rows - rows.mean()).ravel())
        lo, hi = librosa.time_to_frames([seg.start, seg.end], sr=sr, hop_length=hop_length)
        timbre.append(mfcc[:, lo: max(hi, lo + 1)].mean(axis=1))
        first += len(seg.beats)
    seq = _unit(np.array(seq))
    timbre = np.array(timbre)
    timbre = _unit((timbre - timbre.mean(axis=0)) / (timbre.std(axis=0) + 1e-9))
    return CHROMA_WEIGHT * (seq @ seq.T) + (1 - CHROMA_WEIGHT) * (timbre @ timbre.T)


def split_sections(similarity: np.ndarray, features: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Contiguous ``[first, end)`` runs of segments, by agglomerative clustering in time order."""
    import librosa

    n = len(similarity)
    k = int(np.clip(np.ceil(n / SEGMENTS_PER_SECTION), 1, max(1, n // MIN_SECTION_SEGMENTS)))
    if k <= 1 or n < 2 * MIN_SECTION_SEGMENTS:
        return [(0, n)]
    data = similarity if features is None else features
    bounds = list(librosa.segment.agglomerative(np.asarray(data, dtype=float).T, k)) + [n]
    runs = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    # a one-segment run joins the neighbour it is more like
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and (b - a < MIN_SECTION_SEGMENTS or merged[-1][1] - merged[-1][0] < MIN_SECTION_SEGMENTS):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def repeat_groups(similarity: np.ndarray, runs: list[tuple[int, int]]) -> list[int]:
    """Per section, its repeat group: the index of the first section it repeats (transitively)."""
    n = len(runs)
    pair = np.full((n, n), np.nan)
    for i, (a0, a1) in enumerate(runs):
        for j in range(i + 1, n):
            b0, b1 = runs[j]
            length = min(a1 - a0, b1 - b0)
            pair[i, j] = float(np.mean([similarity[a0 + k, b0 + k] for k in range(length)]))
    values = pair[np.isfinite(pair)]
    group = list(range(n))
    if len(values) == 0:
        return group
    bar = max(REPEAT_SIMILARITY, float(values.mean() + REPEAT_Z * values.std()))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if pair[i, j] >= bar:
                ri, rj = root(i), root(j)
                group[max(ri, rj)] = min(ri, rj)
    return [root(i) for i in range(n)]


def label_sections(runs: list[tuple[int, int]], groups: list[int], loudness: list[float]) -> list[str]:
    n = len(runs)
    if n == 1:
        return ["verse"]
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    repeated = {g: m for g, m in members.items() if len(m) > 1}
    chorus = max(repeated, key=lambda g: np.mean([loudness[i] for i in repeated[g]])) if repeated else None
    labels = []
    for i, g in enumerate(groups):
        if g in repeated:
            labels.append("chorus" if g == chorus else "verse")
        elif i == 0:
            labels.append("intro")
        elif i == n - 1:
            labels.append("outro")
        else:
            labels.append("bridge")
    return labels


def find_sections(y: np.ndarray, analysis, sr: int, hop_length: int, power: np.ndarray | None = None) -> list[Section]:
    """The labelled sections of an analysed song (its segments must be set); ``power`` is the
    song's |STFT|^2 when already computed."""
    segments = analysis.segments
    if len(segments) < 2 * MIN_SECTION_SEGMENTS:
        return [Section("verse", 0, 0, len(segments), 0.0, analysis.duration)]
    similarity = segment_similarity(y, analysis, sr, hop_length, power)
    runs = split_sections(similarity)
    groups = repeat_groups(similarity, runs)
    db = np.asarray(analysis.beat_loudness_db, dtype=float)
    loud = []
    first_beat = np.cumsum([0] + [len(s.beats) for s in segments])
    for a, b in runs:
        part = db[first_beat[a]: first_beat[b]]
        loud.append(float(np.mean(10 ** (part / 10))) if len(part) else 0.0)
    labels = label_sections(runs, groups, loud)
    return [Section(label, group, a, b, segments[a].start, segments[b - 1].end)
            for (a, b), group, label in zip(runs, groups, labels)]
