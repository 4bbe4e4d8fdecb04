"""A shaded mannequin drawn from MediaPipe's 33 pose landmarks, and video writing.

The figure is built from filled, anti-aliased shapes: tapered limbs (capsules with a
dark rim, a mid tone and a highlight towards the light at the top left), a torso and a
pelvis (convex hulls of circles, so they keep their volume when the dancer turns), mitten
hands, shoes, a neck and a head with hair and a simple face.  Parts are drawn back to front
by depth (landmark ``z``), and parts far behind the body are darkened a little.

The face matters: MediaPipe reads a faceless mannequin as seen from behind and swaps
left and right; with eyes, mouth and hair it finds the joints within a few pixels.

>>> import numpy as np
>>> from choreo_engine.starter.moves import MOVES
>>> from choreo_engine.starter.skeleton import project
>>> lm = project(MOVES["clap"].skeleton(np.array([0.5])))
>>> img = render_background(640, 360)
>>> draw_mannequin(img, lm[0])
>>> img.shape
(360, 640, 3)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..ffmpeg import pipe_frames, timeout_for

__all__ = [
    "DetectionReport",
    "PALETTES",
    "Palette",
    "draw_mannequin",
    "get_palette",
    "mediapipe_check",
    "render_background",
    "render_video_frames",
    "write_video",
]

BGR = tuple[int, int, int]


def _hex(h: str) -> BGR:
    h = h.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return (b, g, r)


@dataclass(frozen=True)
class Palette:
    """Colours of the stage and the figure (BGR)."""

    name: str
    wall_top: BGR
    wall_bottom: BGR
    floor_far: BGR
    floor_near: BGR
    glow: BGR
    shirt: BGR
    pants: BGR
    skin: BGR
    hair: BGR
    shoes: BGR
    lips: BGR = field(default=_hex("#b5475a"))
    eyes: BGR = field(default=_hex("#2a1f1d"))


PALETTES: dict[str, Palette] = {
    p.name: p
    for p in (
        Palette("studio", _hex("#dfe6ee"), _hex("#b9c6d4"), _hex("#9aa5b1"), _hex("#7d8894"), _hex("#ffffff"),
                shirt=_hex("#e4572e"), pants=_hex("#29335c"), skin=_hex("#f1c9a5"), hair=_hex("#3b2a20"),
                shoes=_hex("#22252b")),
        Palette("sunset", _hex("#ffd6a5"), _hex("#f4a38c"), _hex("#b5838d"), _hex("#8e6c7a"), _hex("#fff1d6"),
                shirt=_hex("#2a9d8f"), pants=_hex("#264653"), skin=_hex("#c68b59"), hair=_hex("#1d1a1a"),
                shoes=_hex("#3d2c2e")),
        Palette("mint", _hex("#e3f6ef"), _hex("#bfe3d6"), _hex("#9cc5b6"), _hex("#7aa595"), _hex("#ffffff"),
                shirt=_hex("#ffb400"), pants=_hex("#3f4b8c"), skin=_hex("#e8b58f"), hair=_hex("#6b3e26"),
                shoes=_hex("#2b2d42")),
        Palette("night", _hex("#2b2d42"), _hex("#3c3f5c"), _hex("#4a4e69"), _hex("#383b54"), _hex("#8d99ae"),
                shirt=_hex("#ef476f"), pants=_hex("#e9ecef"), skin=_hex("#f3c9a8"), hair=_hex("#2b1b17"),
                shoes=_hex("#ffd166")),
        Palette("lilac", _hex("#f1eafa"), _hex("#d9cdee"), _hex("#b8a9d4"), _hex("#9a8bb8"), _hex("#ffffff"),
                shirt=_hex("#06a77d"), pants=_hex("#1d3557"), skin=_hex("#8d5b3e"), hair=_hex("#151012"),
                shoes=_hex("#e63946")),
    )
}


def get_palette(palette: Palette | str | None = None) -> Palette:
    """A palette by name (``studio``, ``sunset``, ``mint``, ``night``, ``lilac``) or as given."""
    if palette is None:
        return PALETTES["studio"]
    if isinstance(palette, Palette):
        return palette
    try:
        return PALETTES[palette]
    except KeyError:
        raise ValueError(f"unknown palette {palette!r}; choose from {sorted(PALETTES)}") from None


# --------------------------------------------------------------------------------------
# Colours and shapes
# --------------------------------------------------------------------------------------

SHIFT = 4                      # sub-pixel bits for OpenCV drawing
_ONE = float(1 << SHIFT)
_LIGHT = np.array([-0.5, -0.866])  # light from the top left (image coordinates)
_AA = cv2.LINE_AA


def _mix(c: Sequence[float], d: Sequence[float], t: float) -> BGR:
    return tuple(int(round(a * (1 - t) + b * t)) for a, b in zip(c, d))  # type: ignore[return-value]


@lru_cache(maxsize=512)
def _tones(color: BGR, dim: float) -> tuple[BGR, BGR, BGR, BGR]:
    """(rim, base, mid, highlight) of a material, dimmed by ``dim`` (1 = full light)."""
    c = np.array(color, dtype=np.float64) * dim
    rim = tuple(int(v) for v in np.clip(c * 0.42, 0, 255))
    base = tuple(int(v) for v in np.clip(c * 0.72, 0, 255))
    mid = tuple(int(v) for v in np.clip(c * 0.97 + 4, 0, 255))
    hi = tuple(int(v) for v in np.clip(c + (255 - c) * 0.38, 0, 255))
    return rim, base, mid, hi  # type: ignore[return-value]


_CAP = np.linspace(-math.pi / 2, math.pi / 2, 9)
_CAPC, _CAPS = np.cos(_CAP)[:, None], np.sin(_CAP)[:, None]
_CIRC = np.linspace(0, 2 * math.pi, 14, endpoint=False)
_CIRCV = np.stack([np.cos(_CIRC), np.sin(_CIRC)], axis=1)


def _capsule(p0: np.ndarray, p1: np.ndarray, r0: float, r1: float) -> np.ndarray:
    d = p1 - p0
    L = math.hypot(d[0], d[1])
    u = d / L if L > 1e-6 else np.array([0.0, 1.0])
    n = np.array([-u[1], u[0]])
    cap1 = p1 + r1 * (_CAPC * u + _CAPS * n)
    cap0 = p0 - r0 * (_CAPC * u + _CAPS * n)
    return np.concatenate([cap1, cap0])


def _fill(img: np.ndarray, pts: np.ndarray, color: BGR) -> None:
    cv2.fillConvexPoly(img, np.round(pts * _ONE).astype(np.int32), color, _AA, SHIFT)


def _limb(img, p0, p1, r0, r1, color: BGR, dim: float, ow: float) -> None:
    rim, base, mid, hi = _tones(color, dim)
    d = p1 - p0
    L = math.hypot(d[0], d[1])
    u = d / L if L > 1e-6 else np.array([0.0, 1.0])
    n = np.array([-u[1], u[0]])
    side = n * float(n @ _LIGHT)                 # towards the light, across the limb
    _fill(img, _capsule(p0, p1, r0 + ow, r1 + ow), rim)
    _fill(img, _capsule(p0, p1, r0, r1), base)
    _fill(img, _capsule(p0 + side * 0.2 * r0, p1 + side * 0.2 * r1, r0 * 0.74, r1 * 0.74), mid)
    _fill(img, _capsule(p0 + side * 0.42 * r0, p1 + side * 0.42 * r1, r0 * 0.26, r1 * 0.26), hi)


def _chain(img, segs, dim: float, ow: float) -> None:
    """Limbs drawn layer by layer (all rims, then all fills) so joints show no seam."""
    geo = []
    for p0, p1, r0, r1, color in segs:
        d = p1 - p0
        L = math.hypot(d[0], d[1])
        u = d / L if L > 1e-6 else np.array([0.0, 1.0])
        n = np.array([-u[1], u[0]])
        geo.append((p0, p1, r0, r1, n * float(n @ _LIGHT), _tones(color, dim)))
    for p0, p1, r0, r1, _, tones in geo:
        _fill(img, _capsule(p0, p1, r0 + ow, r1 + ow), tones[0])
    for p0, p1, r0, r1, _, tones in geo:
        _fill(img, _capsule(p0, p1, r0, r1), tones[1])
    for p0, p1, r0, r1, side, tones in geo:
        _fill(img, _capsule(p0 + side * 0.2 * r0, p1 + side * 0.2 * r1, r0 * 0.74, r1 * 0.74), tones[2])
    for p0, p1, r0, r1, side, tones in geo:
        _fill(img, _capsule(p0 + side * 0.42 * r0, p1 + side * 0.42 * r1, r0 * 0.26, r1 * 0.26), tones[3])


def _hull(centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    pts = (centers[:, None, :] + radii[:, None, None] * _CIRCV[None]).reshape(-1, 2)
    return cv2.convexHull(np.round(pts * _ONE).astype(np.int32))


def _blob(img, centers: np.ndarray, radii: np.ndarray, color: BGR, dim: float, ow: float,
          shine: float = 1.0) -> None:
    rim, base, mid, hi = _tones(color, dim)
    cv2.fillConvexPoly(img, _hull(centers, radii + ow), rim, _AA, SHIFT)
    cv2.fillConvexPoly(img, _hull(centers, radii), base, _AA, SHIFT)
    c0 = centers.mean(axis=0)
    r = float(radii.mean())
    cv2.fillConvexPoly(img, _hull(c0 + (centers - c0) * 0.97 + _LIGHT * 0.10 * r, radii * 0.88),
                       _mix(base, mid, 0.5), _AA, SHIFT)
    cm = c0 + (centers - c0) * 0.9 + _LIGHT * 0.22 * r
    cv2.fillConvexPoly(img, _hull(cm, radii * 0.74), mid, _AA, SHIFT)
    if shine > 0:
        ch = c0 + (centers - c0) * 0.75 + _LIGHT * 0.45 * r
        cv2.fillConvexPoly(img, _hull(ch, radii * 0.28 * shine), hi, _AA, SHIFT)


def _ipt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


def _iax(a: float, b: float) -> tuple[int, int]:
    return max(1, int(round(a * _ONE))), max(1, int(round(b * _ONE)))


# --------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------

# metric sizes (metres) of the drawn body, matching choreo_engine.starter.moves' skeleton
_BONE_M = ((11, 13, 0.29), (12, 14, 0.29), (13, 15, 0.26), (14, 16, 0.26),
           (23, 25, 0.44), (24, 26, 0.44), (25, 27, 0.42), (26, 28, 0.42), (11, 12, 0.36))


def _scale(P: np.ndarray, Z: np.ndarray) -> float:
    """Pixels per metre, from 3-D bone lengths (robust to turns and foreshortening)."""
    r = []
    for i, j, m in _BONE_M:
        d = math.sqrt((P[i, 0] - P[j, 0]) ** 2 + (P[i, 1] - P[j, 1]) ** 2 + (Z[i] - Z[j]) ** 2)
        r.append(d / m)
    r.sort()
    s = 0.5 * (r[3] + r[4] + r[4] + r[5]) / 2.0
    return max(s, 1.0)


def draw_mannequin(img: np.ndarray, landmarks: np.ndarray, palette: Palette | str | None = None,
                   floor_y: float | None = None) -> None:
    """Draw a shaded mannequin in place on a BGR uint8 image.

    ``landmarks``: ``(33, 4)`` image-normalised MediaPipe pose landmarks (x, y, z, visibility).
    ``floor_y``: the floor's image row for the shadow (default: under the lowest foot).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[0] < 33 or not np.isfinite(lm[:, :3]).all():
        return
    pal = get_palette(palette)
    H, W = img.shape[:2]
    P = lm[:, :2] * (W, H)
    Z = lm[:, 2] * W
    s = _scale(P, Z)
    ow = max(1.0, 0.011 * s)

    sh_mid = 0.5 * (P[11] + P[12])
    hip_mid = 0.5 * (P[23] + P[24])
    torso_z = 0.25 * (Z[11] + Z[12] + Z[23] + Z[24])

    def dim_of(z: float) -> float:
        d = (z - torso_z) / (0.3 * s)
        return round(float(np.clip(1.0 - 0.3 * d, 0.72, 1.04)) * 16) / 16

    # shadow on the floor
    feet = P[[27, 28, 29, 30, 31, 32]]
    fy = float(feet[:, 1].max()) + 0.01 * s if floor_y is None else float(floor_y)
    _shadow(img, float(np.mean(feet[:, 0])), fy, 0.32 * s + 0.5 * float(np.ptp(feet[:, 0])), 0.05 * s,
            strength=float(np.clip(1.0 - (fy - feet[:, 1].max()) / (0.5 * s), 0.3, 1.0)))

    parts: list[tuple[float, int, tuple]] = []
    add = parts.append

    # torso (shirt) and pelvis (pants): hulls of circles
    up = sh_mid - hip_mid
    chest = hip_mid + up * 0.72
    waist = hip_mid + up * 0.30
    add((torso_z + 0.06 * s, 0, ("blob", np.array([P[11], P[12], chest, waist, P[23] + up * 0.12,
                                                     P[24] + up * 0.12]),
                                  np.array([0.072, 0.072, 0.108, 0.088, 0.064, 0.064]) * s,
                                  pal.shirt, 1.0, 0.8)))
    add((torso_z + 0.085 * s, 1, ("blob", np.array([P[23], P[24], waist + (hip_mid - waist) * 0.3,
                                                     hip_mid - up * 0.10]),
                                  np.array([0.085, 0.085, 0.095, 0.07]) * s, pal.pants, 1.0, 0.5)))
    # neck and head
    face = _head_geometry(P, Z, s)
    neck_top = face["center"] + face["up"] * (-0.55 * face["ry"])
    add((0.5 * (Z[11] + Z[12]) + 0.04 * s, 2, ("limb", sh_mid + (neck_top - sh_mid) * 0.05, neck_top,
                                               0.044 * s, 0.04 * s, pal.skin, 1.0)))
    add((face["z"] - 0.02 * s, 3, ("head", face)))

    # limbs, back to front
    for sh, el, wr, ix, pk, th in ((11, 13, 15, 19, 17, 21), (12, 14, 16, 20, 18, 22)):
        zu = 0.5 * (Z[sh] + Z[el])
        add((zu, 4, ("limb", P[sh], P[el], 0.050 * s, 0.041 * s, pal.shirt, dim_of(zu))))
        zf = 0.5 * (Z[el] + Z[wr])
        add((zf, 5, ("limb", P[el], P[wr], 0.037 * s, 0.029 * s, pal.skin, dim_of(zf))))
        tip = P[ix] + (P[ix] - P[wr]) * 0.45
        zh = min(Z[wr], Z[ix]) - 0.01 * s
        add((zh, 6, ("blob", np.array([P[wr], P[ix], P[pk], tip, P[th]]),
                     np.array([0.030, 0.027, 0.025, 0.021, 0.016]) * s, pal.skin, dim_of(zh), 0.6)))
    for hp, kn, an, he, to in ((23, 25, 27, 29, 31), (24, 26, 28, 30, 32)):
        zl = (Z[hp] + Z[kn] + Z[an]) / 3.0
        zf = min(Z[an], Z[to]) - 0.01 * s
        add((max(zf, zl) + 0.001 * s, 9, ("blob", np.array([P[an], P[he], P[to], 0.5 * (P[an] + P[to])]),
                                        np.array([0.042, 0.036, 0.032, 0.04]) * s, pal.shoes, dim_of(zf), 0.7)))
        add((zl, 7, ("chain", [(P[hp], P[kn], 0.080 * s, 0.058 * s, pal.pants),
                               (P[kn], P[an], 0.057 * s, 0.044 * s, pal.pants)], dim_of(zl))))

    parts.sort(key=lambda t: (-t[0], t[1]))
    for _, _, spec in parts:
        kind = spec[0]
        if kind == "limb":
            _, a, b, r0, r1, col, dim = spec
            _limb(img, a, b, r0, r1, col, dim, ow)
        elif kind == "chain":
            _chain(img, spec[1], spec[2], ow)
        elif kind == "blob":
            _, c, r, col, dim, shine = spec
            _blob(img, c, r, col, dim, ow, shine)
        else:
            _draw_head(img, spec[1], pal, s, ow)


def _shadow(img: np.ndarray, cx: float, cy: float, rx: float, ry: float, strength: float) -> None:
    H, W = img.shape[:2]
    x0, x1 = int(max(cx - rx - 2, 0)), int(min(cx + rx + 3, W))
    y0, y1 = int(max(cy - ry - 2, 0)), int(min(cy + ry + 3, H))
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    dark = (roi * 0.62).astype(np.uint8)
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.ellipse(mask, _ipt(np.array([cx - x0, cy - y0])), _iax(rx, ry), 0, 0, 360,
                int(255 * 0.75 * strength), -1, _AA, SHIFT)
    cv2.ellipse(mask, _ipt(np.array([cx - x0, cy - y0])), _iax(rx * 0.6, ry * 0.6), 0, 0, 360,
                int(255 * strength), -1, _AA, SHIFT)
    a = mask[..., None].astype(np.uint16)
    roi[:] = ((dark.astype(np.uint16) * a + roi.astype(np.uint16) * (255 - a)) // 255).astype(np.uint8)


def _head_geometry(P: np.ndarray, Z: np.ndarray, s: float) -> dict:
    ear_mid = 0.5 * (P[7] + P[8])
    ez = 0.5 * (Z[7] + Z[8])
    eye_mid = 0.5 * (P[2] + P[5])
    # head "up": from the mouth to the eyes, or across the ear line
    e = P[7] - P[8]
    across = e / (np.hypot(*e) + 1e-9)
    upv = np.array([across[1], -across[0]])
    if upv[1] > 0:
        upv = -upv
    mouth_mid = 0.5 * (P[9] + P[10])
    mv = eye_mid - mouth_mid
    if np.hypot(*mv) > 0.01 * s and np.dot(mv, upv) > 0:
        upv = 0.5 * upv + 0.5 * mv / np.hypot(*mv)
        upv /= np.hypot(*upv) + 1e-9
    rx, ry = 0.090 * s, 0.114 * s
    center = ear_mid + upv * 0.10 * ry
    frontal = float(np.clip((ez - Z[0]) / (0.11 * s), -1.0, 1.0))   # 1 facing the camera, -1 away
    lateral = (P[0] - ear_mid) / (0.11 * s)
    angle = math.degrees(math.atan2(upv[0], -upv[1]))
    return dict(center=center, up=upv, rx=rx, ry=ry, frontal=frontal, lateral=lateral, angle=angle,
                z=ez, P=P, Z=Z)


def _draw_head(img: np.ndarray, g: dict, pal: Palette, s: float, ow: float) -> None:
    c, upv, rx, ry = g["center"], g["up"], g["rx"], g["ry"]
    ang = g["angle"]
    P, Z = g["P"], g["Z"]
    frontal, lateral = g["frontal"], g["lateral"]
    rim_h, base_h, mid_h, hi_h = _tones(pal.hair, 1.0)
    rim_s, base_s, mid_s, hi_s = _tones(pal.skin, 1.0)
    right = np.array([-upv[1], upv[0]])   # image-right when upright

    # skull in hair colour, with a rim; the face covers its front
    cv2.ellipse(img, _ipt(c), _iax(rx + ow, ry + ow), ang, 0, 360, rim_h, -1, _AA, SHIFT)
    cv2.ellipse(img, _ipt(c), _iax(rx, ry), ang, 0, 360, base_h, -1, _AA, SHIFT)
    lat = float(np.clip(np.dot(lateral, right), -1.0, 1.0))
    if frontal > -0.3:
        vis = float(np.clip((frontal + 0.3) / 0.6, 0.0, 1.0))
        fw = rx * (0.50 + 0.36 * max(frontal, 0.0)) * (0.4 + 0.6 * vis)
        fc = c + right * lat * rx * 0.42 - upv * ry * 0.12
        fh = ry * 0.82
        cv2.ellipse(img, _ipt(fc), _iax(fw, fh), ang, 0, 360, base_s, -1, _AA, SHIFT)
        cv2.ellipse(img, _ipt(fc + _LIGHT * 0.10 * fw), _iax(fw * 0.84, fh * 0.88), ang, 0, 360, mid_s, -1,
                    _AA, SHIFT)
        # fringe over the forehead
        cap_c = c + upv * ry * 0.36
        cv2.ellipse(img, _ipt(cap_c), _iax(rx * 1.0, ry * 0.66), ang, 180, 360, base_h, -1, _AA, SHIFT)
        if frontal > 0.15:
            _draw_face(img, P, Z, g, pal, s, upv, right, lat)
    # a sheen on the hair
    hl = c + upv * ry * 0.62 + right * (-rx * 0.30)
    cv2.ellipse(img, _ipt(hl), _iax(rx * 0.34, ry * 0.12), ang - 20, 0, 360, mid_h, -1, _AA, SHIFT)
    cv2.ellipse(img, _ipt(hl + upv * ry * 0.02), _iax(rx * 0.18, ry * 0.05), ang - 20, 0, 360, hi_h, -1,
                _AA, SHIFT)


def _draw_face(img, P, Z, g, pal: Palette, s: float, upv, right, lat: float) -> None:
    er = 0.012 * s
    brow = _tones(pal.hair, 1.0)[1]
    for eye in (2, 5):
        # the far eye disappears behind the nose in profile
        if abs(lat) > 0.55 and np.dot(P[eye] - P[0], right) * lat < 0:
            continue
        p = P[eye]
        cv2.ellipse(img, _ipt(p), _iax(er * 0.85, er * 1.05), g["angle"], 0, 360, pal.eyes, -1, _AA, SHIFT)
        cv2.circle(img, _ipt(p + upv * 0.35 * er - right * 0.3 * er), max(1, int(round(er * 0.32 * _ONE))),
                   (255, 255, 255), -1, _AA, SHIFT)
        b0 = p + upv * 2.0 * er - right * 1.2 * er
        b1 = p + upv * 2.3 * er + right * 1.2 * er
        cv2.line(img, _ipt(b0), _ipt(b1), brow, max(1, int(round(0.55 * er))), _AA, SHIFT)
    # nose
    base_s = _tones(pal.skin, 1.0)[1]
    n = P[0] - upv * 0.3 * er
    cv2.ellipse(img, _ipt(n), _iax(er * 0.65, er * 0.45), g["angle"], 0, 360, base_s, -1, _AA, SHIFT)
    # mouth: a smile between the mouth corners
    m0, m1 = P[9], P[10]
    mc = 0.5 * (m0 + m1) + upv * 0.4 * er
    half = max(0.5 * float(np.hypot(*(m0 - m1))), 0.8 * er)
    cv2.ellipse(img, _ipt(mc), _iax(half, er * 1.1), g["angle"], 15, 165, pal.lips,
                max(1, int(round(0.55 * er))), _AA, SHIFT)


# --------------------------------------------------------------------------------------
# Background and video
# --------------------------------------------------------------------------------------

def _default_floor(height: int) -> float:
    return height * (1.0 - 0.065)


@lru_cache(maxsize=16)
def _background(width: int, height: int, pal: Palette, floor_px: int) -> np.ndarray:
    H, W = height, width
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    horizon = int(round(floor_px - 0.13 * H))
    img = np.zeros((H, W, 3), np.float32)
    t = np.clip(y / max(horizon, 1), 0, 1)[..., None]
    wall = np.array(pal.wall_top, np.float32) * (1 - t) + np.array(pal.wall_bottom, np.float32) * t
    tf = np.clip((y - horizon) / max(H - horizon, 1), 0, 1)[..., None]
    floor = np.array(pal.floor_far, np.float32) * (1 - tf) + np.array(pal.floor_near, np.float32) * tf
    is_floor = (y >= horizon)[..., None]
    img[:] = np.where(is_floor, floor, wall)
    # a soft spotlight on the wall behind the dancer and on the floor around the feet
    cx = W / 2.0
    d_wall = ((x - cx) / (0.42 * W)) ** 2 + ((y - horizon * 0.55) / (0.75 * H)) ** 2
    d_floor = ((x - cx) / (0.35 * W)) ** 2 + ((y - floor_px) / (0.07 * H)) ** 2
    glow = np.where(is_floor[..., 0], 0.35 * np.exp(-d_floor), 0.55 * np.exp(-d_wall))[..., None]
    img = img * (1 - glow) + np.array(pal.glow, np.float32) * glow
    # faint floor boards converging on the centre
    vy = horizon - 0.9 * H
    boards = np.zeros((H, W), np.uint8)
    for k in range(-12, 13):
        x_bottom = cx + k * 0.16 * W
        x_top = cx + (x_bottom - cx) * (horizon - vy) / (H - vy)
        cv2.line(boards, (int(x_top * 16), horizon * 16), (int(x_bottom * 16), H * 16), 255, 1, _AA, 4)
    bf = (boards.astype(np.float32) / 255.0 * 0.06)[..., None]
    img = img * (1 - bf)
    # the skirting line where the wall meets the floor
    img[horizon - 1:horizon + 1] *= 0.88
    # vignette
    v = 1.0 - 0.18 * (((x - cx) / (0.7 * W)) ** 2 + ((y - H / 2) / (0.9 * H)) ** 2)
    img *= np.clip(v, 0.7, 1.0)[..., None]
    out = np.clip(img, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def render_background(width: int, height: int, palette: Palette | str | None = None,
                      floor_y: float | None = None) -> np.ndarray:
    """A clean studio backdrop (wall gradient, spotlight, floor with faint boards), BGR uint8."""
    fy = _default_floor(height) if floor_y is None else floor_y
    return _background(int(width), int(height), get_palette(palette), int(round(fy))).copy()


def render_video_frames(landmarks: np.ndarray, width: int = 640, height: int = 360,
                        palette: Palette | str | None = None) -> Iterator[np.ndarray]:
    """BGR frames of the mannequin dancing ``landmarks`` ``(T, 33, 4)`` on the studio backdrop.

    The same array is reused between frames: copy a frame to keep it.
    """
    lm = np.asarray(landmarks, dtype=np.float32)
    pal = get_palette(palette)
    if len(lm):
        feet = lm[:, [27, 28, 29, 30, 31, 32], 1] * height
        fy = float(np.nanpercentile(np.nanmax(feet, axis=1), 90)) + 2.0
        if not np.isfinite(fy):
            fy = _default_floor(height)
    else:
        fy = _default_floor(height)
    bg = _background(int(width), int(height), pal, int(round(fy)))
    frame = np.empty_like(bg)
    for t in range(len(lm)):
        np.copyto(frame, bg)
        draw_mannequin(frame, lm[t], pal, floor_y=fy)
        yield frame


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, width: int, height: int,
                audio_path: str | os.PathLike | None = None, crf: int = 23, preset: str = "veryfast") -> int:
    """Encode BGR frames to H.264 (yuv420p) with the ffmpeg of ``imageio_ffmpeg``.

    Frames are piped raw into ffmpeg's stdin.  With ``audio_path`` its audio is muxed as AAC
    and the output stops with the shorter stream.  Returns the number of frames written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-"]
    if audio_path is not None:
        cmd += ["-i", str(audio_path)]
    cmd += ["-map", "0:v:0"]
    if audio_path is not None:
        cmd += ["-map", "1:a:0?", "-c:a", "aac", "-b:a", "160k", "-shortest"]
    vf = []
    if width % 2 or height % 2:
        vf = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
    cmd += vf + ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
                 "-movflags", "+faststart", str(path)]
    def to_bytes(f: np.ndarray) -> memoryview:
        if f.shape != (height, width, 3) or f.dtype != np.uint8:
            raise ValueError(f"frame is {f.shape} {f.dtype}, expected ({height}, {width}, 3) uint8")
        return np.ascontiguousarray(f).data

    # how many frames come is not known ahead (an iterable), so the bound is an hour of video
    return pipe_frames(cmd, frames, to_bytes, timeout=timeout_for(None))


# --------------------------------------------------------------------------------------
# Checking the figure with MediaPipe
# --------------------------------------------------------------------------------------

#: Joints compared with MediaPipe: shoulders, elbows, wrists, hips, knees, ankles.
CHECK_JOINTS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
_SWAP = {11: 12, 12: 11, 13: 14, 14: 13, 15: 16, 16: 15, 23: 24, 24: 23, 25: 26, 26: 25, 27: 28, 28: 27}


@dataclass
class DetectionReport:
    """How MediaPipe Pose sees the rendered mannequin (errors in pixels at the check size)."""

    n_frames: int
    n_detected: int
    n_swapped: int                      # frames whose left/right came out swapped
    mean_error_px: float                # over CHECK_JOINTS and detected frames
    joint_error_px: dict[int, float]    # per joint
    joint_bias_px: dict[int, tuple[float, float]]  # mean (detected - drawn) offset per joint
    frame_error_px: np.ndarray = field(repr=False)  # (T,) mean error, nan when missed
    width: int = 640
    height: int = 360
    swapped_frames: list[int] = field(default_factory=list)

    @property
    def detection_rate(self) -> float:
        return self.n_detected / max(self.n_frames, 1)


def mediapipe_check(landmarks: np.ndarray, width: int = 640, height: int = 360,
                    palette: Palette | str | None = None, static: bool = False) -> DetectionReport:
    """Render ``landmarks`` ``(T, 33, 4)`` and run MediaPipe Pose (model complexity 1) on it.

    Returns the detection rate, the pixel error between drawn and detected joints and how
    many frames came out with left and right swapped.  Frames larger than 640x360 are
    estimated on a downscaled copy, as Choreo's pose module does.
    """
    import mediapipe as mp

    lm = np.asarray(landmarks, dtype=np.float32)
    T = len(lm)
    k = min(1.0, 640.0 / width, 360.0 / height)
    cw, ch = int(round(width * k)), int(round(height * k))
    errs = np.full((T, len(CHECK_JOINTS)), np.nan)
    diffs = np.full((T, len(CHECK_JOINTS), 2), np.nan)
    swapped: list[int] = []
    with mp.solutions.pose.Pose(static_image_mode=static, model_complexity=1,
                                min_detection_confidence=0.5, min_tracking_confidence=0.5) as pose:
        for t, frame in enumerate(render_video_frames(lm, width, height, palette)):
            img = frame if k == 1.0 else cv2.resize(frame, (cw, ch), interpolation=cv2.INTER_AREA)
            res = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            if res.pose_landmarks is None:
                continue
            det = np.array([[p.x * cw, p.y * ch] for p in res.pose_landmarks.landmark])
            ref = lm[t, :, :2] * (cw, ch)
            direct = np.array([np.hypot(*(det[j] - ref[j])) for j in CHECK_JOINTS])
            swap = np.array([np.hypot(*(det[_SWAP[j]] - ref[j])) for j in CHECK_JOINTS])
            if swap.mean() + 2.0 < direct.mean():
                swapped.append(t)
            errs[t] = direct
            diffs[t] = det[list(CHECK_JOINTS)] - ref[list(CHECK_JOINTS)]
    detected = ~np.isnan(errs[:, 0])
    joint = {j: float(np.nanmean(errs[:, i])) if detected.any() else float("nan")
             for i, j in enumerate(CHECK_JOINTS)}
    bias = {j: tuple(float(v) for v in np.nanmean(diffs[:, i], axis=0)) if detected.any() else (math.nan, math.nan)
            for i, j in enumerate(CHECK_JOINTS)}
    return DetectionReport(
        n_frames=T, n_detected=int(detected.sum()), n_swapped=len(swapped), swapped_frames=swapped,
        mean_error_px=float(np.nanmean(errs)) if detected.any() else float("nan"),
        joint_error_px=joint, joint_bias_px=bias, frame_error_px=np.nanmean(errs, axis=1) if T else np.zeros(0),
        width=cw, height=ch)
