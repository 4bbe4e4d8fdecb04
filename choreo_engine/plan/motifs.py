"""The choreography terms of the planner beside the four scores: dance style per section and
motif reuse, in points of combined score (0-100 scale).

Sizes, measured with ``choreo bench plan`` on the 40-song starter library: a style change
inside a section costs ``STYLE_CHANGE_PENALTY`` - about the music-similarity gap between a
pool's best and its tenth candidate, so the style holds unless the music asks strongly for
another; a change at a section boundary earns a small ``STYLE_CHANGE_REWARD`` (a new section may
bring a new style; it should not force one). ``MOTIF_BONUS`` outweighs the usual spread of a
pool, so a repeated section gets its moves back unless they fit its music or tempo far worse.

Every library segment has a style: its clip's (the starter's own, ``library add --style``);
a clip without one is "unknown", and for the style terms each unknown clip is a style of its
own (two unknown clips need not look alike; one clip is one style).
"""

from __future__ import annotations

import numpy as np

STYLE_CHANGE_PENALTY = 12.0
STYLE_CHANGE_REWARD = 3.0
MOTIF_BONUS = 30.0
UNKNOWN_STYLE = "unknown"


def style_of(segment) -> str:
    """A library segment's stored style, or "unknown"."""
    return getattr(segment, "style", None) or UNKNOWN_STYLE


def style_keys(library) -> np.ndarray:
    """Per library row, the key the style terms compare: the style, or the clip for unknowns."""
    keys = []
    for seg in library.segments:
        style = style_of(seg)
        keys.append(f"{UNKNOWN_STYLE}:{seg.clip_id}" if style == UNKNOWN_STYLE else style)
    return np.array(keys, dtype=object)


def section_numbers(analysis) -> np.ndarray:
    """Per song segment, the number of its section (all 0 when the analysis has none)."""
    out = np.zeros(len(analysis.segments), dtype=int)
    for k, section in enumerate(sorted(analysis.sections, key=lambda s: s.first)):
        out[section.first: section.end] = k
    return out


def same_section(ctx, segment: int) -> bool:
    """Whether ``segment`` and the one before it are in one section."""
    sections = ctx.sections
    if segment == 0 or len(sections) <= segment:
        return True
    return bool(sections[segment] == sections[segment - 1])


def style_term(styles: np.ndarray, previous: int, pool: np.ndarray, within_section: bool) -> np.ndarray:
    """Points for each pool row following ``previous``: a penalty for a style change inside a
    section, a small reward for one at a section boundary."""
    changed = styles[np.asarray(pool)] != styles[previous]
    return np.where(changed, -STYLE_CHANGE_PENALTY if within_section else STYLE_CHANGE_REWARD, 0.0)


def style_matrix(styles: np.ndarray, previous: np.ndarray, pool: np.ndarray, within_section: bool) -> np.ndarray:
    """(P, C) :func:`style_term` from every previous row to every pool row."""
    changed = styles[np.asarray(previous)][:, None] != styles[np.asarray(pool)][None, :]
    return np.where(changed, -STYLE_CHANGE_PENALTY if within_section else STYLE_CHANGE_REWARD, 0.0)
