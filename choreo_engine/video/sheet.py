"""The choreography sheet: a printable PNG of the song's timeline and one cell per segment."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..music.audio import SongAnalysis
from .shots import Shot
from .stage import retime_poses, stage_poses

__all__ = ["render_sheet", "sheet_size"]


def sheet_size(width_px: int, n_segments: int) -> tuple[int, int]:
    """(width, height) in pixels of a choreography sheet.

    Segments are laid out in rows of ``per_row = clamp(width_px // 200, 1, n_segments)`` cells
    (8 at the default 1600 px), each ``cell = width_px / per_row`` wide and ``1.6 * cell`` tall,
    below a header of ``0.2 * width_px`` (title and the whole-song timeline) and above a footer
    of ``0.035 * width_px`` (legend)::

        height = round(0.2 * width_px) + rows * round(1.6 * cell) + round(0.035 * width_px)
    """
    per_row = _per_row(width_px, n_segments)
    rows = math.ceil(max(n_segments, 1) / per_row)
    cell = width_px / per_row
    return int(width_px), int(round(0.2 * width_px) + rows * round(1.6 * cell) + round(0.035 * width_px))


def _per_row(width_px: int, n_segments: int) -> int:
    return int(np.clip(width_px // 200, 1, max(n_segments, 1)))


def _thumbnail(shot: Shot, t: float, side: int = 320) -> np.ndarray:
    """RGB image of the mannequin in the shot's pose at song time ``t`` (white ground, for print)."""
    from ..starter import mannequin

    lm = stage_poses([shot], np.array([t]), side, side, crossfade=0.0, figure=0.86, floor_row=0.92)[0]
    img = np.full((side, side, 3), 255, np.uint8)
    fy = int(0.92 * side)
    cv2.line(img, (int(0.08 * side), fy), (int(0.92 * side), fy), (215, 215, 215), max(1, side // 160), cv2.LINE_AA)
    mannequin.draw_mannequin(img, lm, "studio", floor_y=0.92 * side)
    return img[..., ::-1]


def _motion_fallback(shots: Sequence[Shot], fps: float = 25.0) -> list[np.ndarray]:
    """Per-beat motion levels of each chosen move as danced on the song (retimed), relative to this sheet."""
    from ..dance import motion, pose

    raw = []
    for s in shots:
        times = np.arange(int(np.floor(s.dst_start * fps)), int(np.ceil(s.dst_end * fps)) + 1) / fps
        poses = retime_poses(s, times)
        norm = pose.normalize(poses, s.display_aspect())
        speed = motion.joint_speed(norm, fps)
        raw.append(motion.per_beat_motion(speed, fps, s.dst_beats - times[0], s.dst_end - times[0]))
    edges = motion.level_edges(np.concatenate(raw)) if raw else np.linspace(0, 1, 10)
    return [motion.motion_levels(r, edges) for r in raw]


def render_sheet(
    analysis: SongAnalysis,
    shots: list[Shot],
    out_png: str | os.PathLike,
    *,
    motion_levels: list[np.ndarray] | None = None,
    labels: list[str] | None = None,
    width_px: int = 1600,
    title: str | None = None,
    credits: list[str] | None = None,
) -> Path:
    """A printable choreography sheet (PNG): the song's timeline and one cell per segment.

    Header: title, tempo/duration/segments, and the whole song as a timeline - the beat grid,
    the song's loudness level per beat (grey bars) and the chosen moves' motion level per beat
    (coloured line, one colour per clip) with the segment boundaries numbered. Cells: segment
    number and time, the move (label, default the shot's label) drawn as the mannequin at the
    segment's middle beat, and the counts 1..8 with loudness and motion levels (0-10) side by side.
    ``motion_levels`` defaults to levels measured from the chosen poses, relative to this sheet.
    ``credits`` (one line per source video used) are listed under the title.
    The size is :func:`sheet_size` ``(width_px, len(analysis.segments))``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    segs = analysis.segments
    n = len(segs)
    if len(shots) != n:
        raise ValueError(f"{len(shots)} shots for {n} segments")
    if motion_levels is None:
        motion_levels = _motion_fallback(shots)
    labels = labels if labels is not None else [s.label for s in shots]
    W, Hpx = sheet_size(width_px, n)
    dpi = 100
    u = width_px / 1600.0  # font scale
    fig = Figure(figsize=(W / dpi, Hpx / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    per_row = _per_row(width_px, n)
    rows = math.ceil(n / per_row)
    header, footer = round(0.2 * width_px), round(0.035 * width_px)
    cell_w, cell_h = width_px / per_row, round(1.6 * width_px / per_row)

    def axes_px(x, y, w, h):  # pixels from the top-left -> figure fractions
        return fig.add_axes([x / W, 1.0 - (y + h) / Hpx, w / W, h / Hpx])

    clip_names = sorted({lab or "" for lab in labels})
    cmap = matplotlib.colormaps["tab10"]
    colour_of = {name: cmap(i % 10) for i, name in enumerate(clip_names)}
    loud_colour, ink = "#b8c0cc", "#1f2430"

    # title
    fig.text(24 / W, 1 - 22 * u / Hpx, title or "Choreography sheet", fontsize=22 * u, weight="bold",
             color=ink, va="top")
    meter = getattr(analysis, "meter", 4)
    count = 2 * meter if len(getattr(analysis, "downbeats", [])) else analysis.beats_per_segment
    sub = (f"{analysis.tempo:.0f} BPM  ·  {meter}/4  ·  {analysis.duration:.1f} s  ·  {n} parts of "
           f"{count} counts  ·  {len(analysis.beats)} beats")
    fig.text(24 / W, 1 - 62 * u / Hpx, sub, fontsize=12 * u, color="#555b66", va="top")
    if credits:
        import textwrap

        lines = textwrap.wrap("Dance sources: " + "  ·  ".join(credits), width=int(190 * 1600 / width_px * u))
        fig.text(24 / W, 1 - 88 * u / Hpx, "\n".join(lines[:2]) + (" …" if len(lines) > 2 else ""),
                 fontsize=9 * u, color="#555b66", va="top")

    # whole-song timeline
    ax = axes_px(60 * u, 0.085 * width_px, W - 90 * u, 0.09 * width_px)
    beats = np.asarray(analysis.beats, dtype=float)
    loud = np.concatenate([np.asarray(s.loudness_levels, float) for s in segs]) if n else np.zeros(0)
    seg_beats = np.concatenate([s.beats for s in segs]) if n else np.zeros(0)
    widths = np.diff(np.append(seg_beats, analysis.duration)) if len(seg_beats) else np.zeros(0)
    ax.bar(seg_beats, loud, width=widths * 0.85, align="edge", color=loud_colour, label="song loudness")
    for s, shot, lv, lab in zip(segs, shots, motion_levels, labels):
        lv = np.asarray(lv, float)
        k = min(len(lv), len(s.beats))
        if k:
            x = np.append(s.beats[:k], s.end)
            ax.step(x, np.append(lv[:k], lv[k - 1]), where="post", color=colour_of[lab or ""], lw=2.0 * u)
    # sections as shaded bands, one colour per repeat group, named above the timeline
    sections = list(getattr(analysis, "sections", []))
    groups = sorted({sec.group for sec in sections})
    pastel = matplotlib.colormaps["Pastel1"]
    for sec in sections:
        ax.axvspan(sec.start, sec.stop, ymin=0, ymax=1, color=pastel(groups.index(sec.group) % 9), alpha=0.55,
                   lw=0, zorder=0)
        ax.text((sec.start + sec.stop) / 2, 11.6, sec.label.capitalize(), fontsize=9 * u, color=ink,
                ha="center", va="bottom", weight="bold", clip_on=False)
    downbeats = getattr(analysis, "downbeat_times", np.zeros(0))
    if len(downbeats):  # the "1" of every bar: a short dark mark on the floor of the timeline
        ax.vlines(downbeats, 0, 0.9, color=ink, lw=1.2 * u, zorder=3)
    section_of = {i: sec for sec in sections for i in range(sec.first, sec.end)}
    for s in segs:
        ax.axvline(s.start, color=ink, lw=1.0 * u, alpha=0.8)
        ax.text(s.start + 0.05, 10.6, str(s.index + 1), fontsize=8 * u, color=ink, va="bottom")
    ax.set_xticks(beats, minor=True)
    ax.tick_params(axis="x", which="minor", length=3 * u, color="#9aa0aa")
    ax.set_xlim(0, analysis.duration)
    ax.set_ylim(0, 10)
    ax.set_yticks([0, 5, 10])
    ax.tick_params(labelsize=8 * u)
    ax.set_xlabel("time (s)", fontsize=9 * u)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    # cells (sizes in pixels from the cell's top-left; fonts scale with the cell)
    cu = cell_w / 200.0
    for i, (s, shot, lv, lab) in enumerate(zip(segs, shots, motion_levels, labels)):
        r, c = divmod(i, per_row)
        x0, y0 = c * cell_w, header + r * cell_h
        pad = 0.05 * cell_w
        colour = colour_of[lab or ""]
        frame_ax = axes_px(x0 + pad / 2, y0 + pad / 2, cell_w - pad, cell_h - pad)
        frame_ax.set_xticks([])
        frame_ax.set_yticks([])
        for sp in frame_ax.spines.values():
            sp.set_color("#d5d9e0")
        frame_ax.patch.set_alpha(0.0)
        # title strip: number and time on the clip's colour
        strip = 0.15 * cell_w
        sax = axes_px(x0 + pad / 2, y0 + pad / 2, cell_w - pad, strip)
        sax.set_facecolor(colour)
        sax.set_xticks([])
        sax.set_yticks([])
        for sp in sax.spines.values():
            sp.set_visible(False)
        sax.text(0.04, 0.5, f"{i + 1}", fontsize=15 * cu, weight="bold", color="white", va="center",
                 transform=sax.transAxes)
        sax.text(0.96, 0.5, f"{s.start:.1f}–{s.end:.1f} s", fontsize=9 * cu, color="white", va="center",
                 ha="right", transform=sax.transAxes)
        if i in section_of:
            sax.text(0.22, 0.5, section_of[i].label.capitalize(), fontsize=8 * cu, color="white", va="center",
                     ha="left", style="italic", transform=sax.transAxes)
        # thumbnail: the move at the segment's middle beat
        mid = float(s.beats[len(s.beats) // 2]) if len(s.beats) else 0.5 * (s.start + s.end)
        tside = 0.72 * cell_w
        tax = axes_px(x0 + (cell_w - tside) / 2, y0 + 0.19 * cell_w, tside, tside)
        try:
            tax.imshow(_thumbnail(shot, mid))
        except Exception:  # a missing pose file must not lose the whole sheet
            tax.text(0.5, 0.5, "no pose", ha="center", va="center", fontsize=9 * cu)
        tax.axis("off")
        name = lab or ""
        if len(name) > 26:
            name = name[:24] + "…"
        fig.text((x0 + cell_w / 2) / W, 1 - (y0 + 0.93 * cell_w) / Hpx, name, fontsize=9 * cu,
                 color="#333a45", va="center", ha="center")
        # counts: loudness and motion per beat
        bax = axes_px(x0 + 0.14 * cell_w, y0 + 1.03 * cell_w, cell_w * 0.80, 0.40 * cell_w)
        k = len(s.beats)
        xs = np.arange(k)
        ll = np.asarray(s.loudness_levels, float)[:k]
        ml = np.asarray(lv, float)[:k]
        bw = 0.4
        bax.bar(xs[: len(ll)] - bw / 2, ll, width=bw, color=loud_colour)
        bax.bar(xs[: len(ml)] + bw / 2, ml, width=bw, color=colour)
        bax.set_ylim(0, 10)
        bax.set_xlim(-0.6, k - 0.4)
        bax.set_xticks(xs)
        bax.set_xticklabels([str(j % count + 1) for j in xs],
                            fontsize=(7.5 if k <= 8 else 6) * cu)
        bax.set_yticks([0, 5, 10])
        bax.tick_params(axis="y", labelsize=6.5 * cu, length=2 * cu)
        bax.tick_params(axis="x", length=0, pad=2 * cu)
        bax.grid(axis="y", color="#eceef2", lw=0.8 * cu)
        bax.set_axisbelow(True)
        for side in ("top", "right"):
            bax.spines[side].set_visible(False)

    # legend
    from matplotlib.patches import Patch

    ly = footer * 0.5 / Hpx
    fig.legend(handles=[Patch(color=loud_colour, label="song loudness per beat (0–10)"),
                        Patch(color=cmap(0), label="motion of the chosen move per beat (0–10); colour = clip")],
               loc="center left", bbox_to_anchor=(12 / W, ly), ncol=2, frameon=False, fontsize=10 * u,
               handlelength=1.2 * max(u, 0.6), columnspacing=2.0)
    fig.text((W - 24) / W, ly, "bands: sections (one colour per repeat)  ·  dark marks: downbeats", fontsize=9 * u,
             va="center", ha="right", color="#6b7280")

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi, facecolor="white")
    return out_png
