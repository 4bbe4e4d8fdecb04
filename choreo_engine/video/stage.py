"""The avatar: one mannequin dancing every shot, staged on one floor at one size.

Each shot's poses (MediaPipe landmarks of its clip, gaps filled and smoothed) are retimed onto
its song segment with :func:`choreo_engine.dance.timewarp.retime` (the pose array is
interpolated), re-anchored so every shot stands on the same spot at the same size whatever the
framing of its clip, and crossfaded across cuts. :func:`avatar_frames` draws them with
:func:`choreo_engine.starter.mannequin.draw_mannequin`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from ..dance import pose, timewarp
from ..dance.library import load_poses
from ..errors import RenderError
from .shots import Shot, check_order, schedule

__all__ = ["AVATAR_CROSSFADE", "FIGURE_HEIGHT", "FLOOR_ROW", "avatar_frames", "clip_poses", "retime_poses",
           "stage_poses"]

# The avatar's joints are crossfaded over this many seconds around each cut.
AVATAR_CROSSFADE = 0.25
# The avatar's figure: head-to-feet height as a share of the frame height, and the floor row.
FIGURE_HEIGHT = 0.66
FLOOR_ROW = 0.92
# MediaPipe's depth of a real dancer is noisy and exaggerated; the mannequin sizes its limbs
# from 3-D bone lengths, so at full depth it swells and shrinks (+-25 %). Halved (and smoothed
# over ~0.1 s) the size varies by about +-7 %.
DEPTH_SCALE = 0.5
# A standing body is about this many torso lengths (shoulder centre to hip centre) tall.
BODY_TORSOS = 3.3


def _fill_nan(poses: np.ndarray) -> np.ndarray:
    """Frames without a pose take the nearest posed frames' values (linear in between)."""
    out = poses.astype(np.float32).copy()
    bad = ~np.isfinite(out[:, :, :3]).all(axis=(1, 2))
    if not bad.any():
        return out
    if bad.all():
        raise RenderError("This dance clip has no poses to draw.")
    idx = np.arange(len(out))
    good = idx[~bad]
    flat = out.reshape(len(out), -1)
    for j in range(flat.shape[1]):
        flat[bad, j] = np.interp(idx[bad], good, flat[good, j])
    return flat.reshape(out.shape)


# This module owns the cache of smoothed clip poses (the last 32 clips, by path): the avatar
# stages each shot over its own times, and the sheet draws a thumbnail of each; both reread the same few clips.
@lru_cache(maxsize=32)
def clip_poses(path: str) -> tuple[np.ndarray, float]:
    """(poses with gaps filled, x and y smoothed 1-2-1 and depth over ~0.16 s, fps), cached by path."""
    poses, fps = load_poses(path)
    poses = _fill_nan(poses)
    if len(poses) >= 3:
        from scipy.ndimage import gaussian_filter1d

        sm = poses.copy()
        sm[1:-1, :, :2] = 0.25 * poses[:-2, :, :2] + 0.5 * poses[1:-1, :, :2] + 0.25 * poses[2:, :, :2]
        sm[:, :, 2] = gaussian_filter1d(poses[:, :, 2], sigma=max(0.08 * fps, 0.5), axis=0, mode="nearest")
        poses = sm
    return poses, float(fps)


def retime_poses(shot: Shot, times: np.ndarray) -> np.ndarray:
    """The shot's poses at song ``times``: ``(T, 33, 4)`` image-normalised, as in the clip."""
    poses, fps = clip_poses(shot.poses_path)
    return timewarp.retime(poses, fps, np.atleast_1d(np.asarray(times, dtype=float)), shot.dst_beats,
                           shot.dst_end, shot.src_beats, shot.src_end).astype(np.float32)


def _staged(shot: Shot, times: np.ndarray, own: np.ndarray, W: int, H: int, figure: float,
            floor_row: float) -> np.ndarray:
    """Poses of ``shot`` at ``times`` re-anchored on the stage (pixels x, y, z and visibility).

    ``own`` marks the times the shot is on screen; its anchor (median hip x, floor under the
    feet, median torso length) is measured there, so every shot stands on the same spot at the
    same size whatever the framing of its clip. Travel within the shot is kept.
    """
    poses = retime_poses(shot, times)
    aspect = shot.display_aspect()
    iso = poses.copy()
    iso[..., 0] *= aspect
    iso[..., 2] *= aspect
    ref = iso[own] if own.any() else iso
    hips_x = ref[:, [pose.L_HIP, pose.R_HIP], 0].mean(axis=1)
    anchor_x = float(np.median(hips_x))
    feet_y = ref[:, list(pose.FEET), 1].max(axis=1)
    floor_src = float(np.percentile(feet_y, 90))
    torso_shot = float(np.median(pose.torso_length(ref)))
    whole_clip, _ = clip_poses(shot.poses_path)
    clip_iso = whole_clip[:, :, :2] * (aspect, 1.0)
    torso_clip = float(np.median(pose.torso_length(clip_iso)))
    torso = float(np.clip(torso_shot, 0.85 * torso_clip, 1.18 * torso_clip)) if torso_clip > 0 else torso_shot
    k = (figure * H / BODY_TORSOS) / max(torso, 1e-6)
    out = np.empty_like(iso)
    out[..., 0] = (iso[..., 0] - anchor_x) * k + W / 2.0
    out[..., 1] = floor_row * H - (floor_src - iso[..., 1]) * k
    out[..., 2] = iso[..., 2] * k * DEPTH_SCALE
    out[..., 3] = poses[..., 3]
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def stage_poses(shots: Sequence[Shot], times: np.ndarray, width: int, height: int, *,
                crossfade: float = AVATAR_CROSSFADE, figure: float = FIGURE_HEIGHT,
                floor_row: float = FLOOR_ROW) -> np.ndarray:
    """One continuous dance for the avatar: ``(T, 33, 4)`` landmarks normalised to a ``width x height`` frame.

    Each shot is retimed onto its song segment and re-anchored (same hip position, floor and
    figure size, see :func:`_staged`); around each cut the joints crossfade over ``crossfade``
    seconds (smoothstep), centred on the cut.
    """
    check_order(shots)
    times = np.asarray(times, dtype=float)
    sched = schedule(shots, times)
    half = crossfade / 2.0
    out = np.zeros((len(times), pose.N_LANDMARKS, 4), np.float32)
    staged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for j, shot in enumerate(shots):
        own = sched == j
        if not own.any():
            continue
        lo = shot.dst_start - half if j > 0 else -np.inf
        hi = shot.dst_end + half if j < len(shots) - 1 else np.inf
        near = (times >= lo) & (times < hi)
        idx = np.flatnonzero(near | own)
        staged[j] = (idx, _staged(shot, times[idx], own[idx], width, height, figure, floor_row))
    for j, (idx, poses) in staged.items():
        own = sched[idx] == j
        out[idx[own]] = poses[own]
    if crossfade > 0:
        for j in range(1, len(shots)):
            if j - 1 not in staged or j not in staged:
                continue
            b = shots[j].dst_start
            ia, pa = staged[j - 1]
            ib, pb = staged[j]
            window = np.flatnonzero((times >= b - half) & (times < b + half))
            if not len(window):
                continue
            ra = np.searchsorted(ia, window)
            rb = np.searchsorted(ib, window)
            ok = (ra < len(ia)) & (rb < len(ib))
            ok[ok] &= (ia[ra[ok]] == window[ok]) & (ib[rb[ok]] == window[ok])
            w = _smoothstep((times[window] - b) / crossfade + 0.5)[:, None, None]
            blend = (1.0 - w) * pa[np.minimum(ra, len(ia) - 1)] + w * pb[np.minimum(rb, len(ib) - 1)]
            out[window[ok]] = blend[ok]
    out[..., 0] /= width
    out[..., 1] /= height
    out[..., 2] /= width
    return out


def avatar_frames(shots: Sequence[Shot], times: np.ndarray, W: int, H: int, palette: str) -> Iterator[np.ndarray]:
    from ..starter import mannequin

    lm = stage_poses(shots, times, W, H)
    floor_px = FLOOR_ROW * H
    bg = mannequin.render_background(W, H, palette, floor_y=floor_px)
    frame = np.empty_like(bg)
    for k in range(len(times)):
        np.copyto(frame, bg)
        mannequin.draw_mannequin(frame, lm[k], palette, floor_y=floor_px)
        yield frame
