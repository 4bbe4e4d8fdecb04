"""Dancers' counts on a song's beats: which count (1-8) each beat is, where phrases start, and
the section each part belongs to.

A part (segment) is one 8-count. The 1 falls on the part's first downbeat when the analysis
knows the downbeats (``SongAnalysis.downbeats``, when present); otherwise on the part's first
beat (parts are cut to start on a bar). Beats before that downbeat (a pickup) count on from
the previous 8-count (7, 8, then 1). The cycle is the analysis's ``beats_per_segment``.

A phrase starts on the 1 of a section's first part when the analysis has sections
(``SongAnalysis.sections``), else on the 1 of every fourth part: four 8-counts, the usual
32-beat musical phrase. Sections are read leniently (objects or dicts with ``start``, ``end``
and ``label`` or ``name``; or a ``section`` on each segment) so this works whatever shape the
structure analysis gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BeatCounts", "EIGHTS_PER_PHRASE", "count_beats", "section_labels"]

# Without sections, a phrase is this many 8-counts.
EIGHTS_PER_PHRASE = 4
# A beat is on a downbeat when within this share of a beat interval of it.
DOWNBEAT_TOLERANCE = 0.25


@dataclass
class BeatCounts:
    """Every beat of a song with its count, part and whether a phrase starts on it."""

    times: np.ndarray  # (B,) beat times, seconds
    counts: np.ndarray  # (B,) int, 1..cycle
    parts: np.ndarray  # (B,) int, the part (segment) index of each beat
    phrase_start: np.ndarray  # (B,) bool: a 1 that starts a phrase
    cycle: int = 8

    def beat_at(self, t: np.ndarray | float) -> np.ndarray:
        """Index of the last beat at or before each time (-1 before the first beat)."""
        return np.searchsorted(self.times, np.asarray(t, dtype=float) + 1e-6, side="right") - 1


def _field(item: Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def section_labels(analysis) -> list[str | None]:
    """The section name of each part (None when the analysis has no sections)."""
    segments = analysis.segments
    own = [_field(seg, "section", "section_label") for seg in segments]
    if any(isinstance(v, str) for v in own):
        return [v if isinstance(v, str) else None for v in own]
    sections = getattr(analysis, "sections", None) or []
    spans = []
    for s in sections:
        start, label = _field(s, "start"), _field(s, "label", "name")
        if start is not None and label is not None:
            spans.append((float(start), str(label)))
    if not spans:
        return [None] * len(segments)
    spans.sort()
    starts = np.array([s for s, _ in spans])
    out: list[str | None] = []
    for seg in segments:
        k = int(np.searchsorted(starts, seg.start + 1e-3, side="right")) - 1
        out.append(spans[max(k, 0)][1])
    return out


def count_beats(analysis) -> BeatCounts:
    """The count of every beat of every part of ``analysis`` (a ``SongAnalysis``)."""
    cycle = int(getattr(analysis, "beats_per_segment", 8) or 8)
    # the downbeats' times (``SongAnalysis.downbeats`` are indices into its beats)
    known = getattr(analysis, "downbeat_times", None)
    downbeats = np.zeros(0) if known is None else np.asarray(known, dtype=float).ravel()
    all_beats = np.asarray(analysis.beats, dtype=float)
    interval = float(np.median(np.diff(all_beats))) if len(all_beats) > 1 else 0.5
    labels = section_labels(analysis)
    has_sections = any(label is not None for label in labels)
    times, counts, parts, phrase = [], [], [], []
    for p, seg in enumerate(analysis.segments):
        beats = np.asarray(seg.beats, dtype=float)
        if len(beats) == 0:
            continue
        anchor = 0
        if len(downbeats):
            near = np.min(np.abs(beats[:, None] - downbeats[None, :]), axis=1) <= DOWNBEAT_TOLERANCE * interval
            if near.any():
                anchor = int(np.argmax(near))
        c = (np.arange(len(beats)) - anchor) % cycle + 1
        new_section = labels[p] is not None and (p == 0 or labels[p] != labels[p - 1])
        starts = (new_section if has_sections else p % EIGHTS_PER_PHRASE == 0)
        ph = np.zeros(len(beats), bool)
        ph[anchor] = bool(starts)
        times.append(beats)
        counts.append(c)
        parts.append(np.full(len(beats), p))
        phrase.append(ph)
    if not times:
        return BeatCounts(np.zeros(0), np.zeros(0, int), np.zeros(0, int), np.zeros(0, bool), cycle)
    return BeatCounts(np.concatenate(times), np.concatenate(counts).astype(int), np.concatenate(parts).astype(int),
                      np.concatenate(phrase), cycle)
