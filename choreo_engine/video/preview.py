"""Previews: up to six candidates for one song segment, tiled and numbered with round badges.

Each tile is its shot retimed onto the segment (read through its own clip reader); the clip
carries the segment's audio. The size is checked after encoding and the preview re-encoded
smaller when it is over its budget.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import RenderError
from .encode import MIN_BITS_PER_PIXEL, audio_bitrate, encode_video, video_bitrate_budget
from .shots import Shot
from .sources import ShotFrames, auto_aspect, even

__all__ = ["PREVIEW_MAX_WIDTH", "preview_layout", "render_preview", "render_single_preview"]

PREVIEW_MAX_WIDTH = 1280
BADGE_FILL = (63, 210, 255)  # BGR of #FFD23F, a yellow a phone shows clearly on any picture
BADGE_INK = (20, 20, 20)


def _font(size: int, bold: bool = True):
    from PIL import ImageFont
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


@lru_cache(maxsize=64)
def _badge(number: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A round number badge: (BGR patch, alpha 0..1) of side ``2 * radius + shadow``."""
    from PIL import Image, ImageDraw

    ss = 4  # supersampled for smooth edges
    pad = max(2, radius // 8)
    side = (2 * radius + 2 * pad) * ss
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = side // 2
    r = radius * ss
    sh = pad * ss // 2
    d.ellipse([c - r + sh, c - r + sh, c + r + sh, c + r + sh], fill=(0, 0, 0, 110))
    d.ellipse([c - r, c - r, c + r, c + r], fill=(20, 20, 20, 255))
    ring = max(ss, int(r * 0.09))
    fill_rgb = tuple(reversed(BADGE_FILL))
    d.ellipse([c - r + ring, c - r + ring, c + r - ring, c + r - ring], fill=(*fill_rgb, 255))
    text = str(number)
    font = _font(int(r * (1.25 if len(text) == 1 else 0.95)))
    d.text((c, c), text, font=font, fill=(*reversed(BADGE_INK), 255),
           anchor="mm")
    img = img.resize((side // ss, side // ss), Image.LANCZOS)
    arr = np.asarray(img).astype(np.float32)
    bgr = arr[..., [2, 1, 0]]
    alpha = arr[..., 3:4] / 255.0
    return bgr, alpha


def _label_patch(text: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageDraw

    font = _font(size, bold=False)
    d0 = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = d0.textbbox((0, 0), text, font=font)
    pad = max(2, size // 4)
    w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
    img = Image.new("RGBA", (w, h), (0, 0, 0, 150))
    ImageDraw.Draw(img).text((pad - box[0], pad - box[1]), text, font=font, fill=(255, 255, 255, 255))
    arr = np.asarray(img).astype(np.float32)
    return arr[..., [2, 1, 0]], arr[..., 3:4] / 255.0


def _paste(dst: np.ndarray, patch: tuple[np.ndarray, np.ndarray], x: int, y: int) -> None:
    bgr, alpha = patch
    h = min(bgr.shape[0], dst.shape[0] - y)
    w = min(bgr.shape[1], dst.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    roi = dst[y : y + h, x : x + w].astype(np.float32)
    a = alpha[:h, :w]
    dst[y : y + h, x : x + w] = (bgr[:h, :w] * a + roi * (1.0 - a) + 0.5).astype(np.uint8)


_GRIDS = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2), 6: (3, 2)}
_GAP = 4


def preview_layout(n: int, aspect: float, max_height: int = 480,
                   max_width: int = PREVIEW_MAX_WIDTH) -> tuple[int, int, int, int, int, int]:
    """(cols, rows, tile_w, tile_h, frame_w, frame_h) of a preview grid of ``n`` (1-6) tiles."""
    if n not in _GRIDS:
        raise ValueError("a preview shows 1 to 6 candidates")
    cols, rows = _GRIDS[n]
    tile_h = (max_height - _GAP * (rows - 1)) / rows
    tile_w = tile_h * aspect
    if tile_w * cols + _GAP * (cols - 1) > max_width:
        tile_w = (max_width - _GAP * (cols - 1)) / cols
        tile_h = tile_w / aspect
    tile_w, tile_h = even(tile_w), even(tile_h)
    return cols, rows, tile_w, tile_h, cols * tile_w + _GAP * (cols - 1), rows * tile_h + _GAP * (rows - 1)


def _preview_frames(shots: Sequence[Shot], times: np.ndarray, cols: int, tile_w: int, tile_h: int,
                    W: int, H: int, numbers: Sequence[int] | None, show_labels: bool,
                    fill: str) -> Iterator[np.ndarray]:
    radius = int(np.clip(round(0.15 * min(tile_w, tile_h)), 14, 40))
    margin = max(4, int(round(0.035 * min(tile_w, tile_h))))
    badges = [_badge(int(n), radius) for n in numbers] if numbers is not None else None
    labels = ([_label_patch(s.label, max(10, tile_h // 16)) if s.label else None for s in shots]
              if show_labels else [None] * len(shots))
    # each tile reads through its own reader, even when two tiles share a clip
    source = ShotFrames(shots, tile_w, tile_h, fill, readers=len(shots) + 1, reader_per_shot=True)
    frame = np.full((H, W, 3), 18, np.uint8)
    try:
        for t in times:
            for j in range(len(shots)):
                r, c = divmod(j, cols)
                x, y = c * (tile_w + _GAP), r * (tile_h + _GAP)
                frame[y : y + tile_h, x : x + tile_w] = source.get(j, t)
                if badges is not None:
                    _paste(frame, badges[j], x + margin, y + margin)
                if labels[j] is not None:
                    lp = labels[j]
                    _paste(frame, lp, x + margin, y + tile_h - lp[0].shape[0] - margin)
            yield frame
    finally:
        source.close()


def _render_grid(shots: Sequence[Shot], song_path, out_path, start: float, end: float,
                 numbers: Sequence[int] | None, max_height: int, max_bytes: int, fps: float,
                 aspect: float | None, show_labels: bool, fill: str, max_width: int = PREVIEW_MAX_WIDTH) -> Path:
    if not shots:
        raise ValueError("no shots")
    if not end > start:
        raise ValueError("empty preview range")
    out_path = Path(out_path)
    aspect = aspect or auto_aspect(shots)
    duration = end - start
    n_frames = max(1, int(round(duration * fps)))
    times = start + np.arange(n_frames) / fps
    audio_kbps = min(96, audio_bitrate(duration, max_bytes))
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps=audio_kbps)
    height = max_height
    for _ in range(5):
        cols, _, tile_w, tile_h, W, H = preview_layout(len(shots), aspect, height, max_width)
        frames = _preview_frames(shots, times, cols, tile_w, tile_h, W, H, numbers, show_labels, fill)
        encode_video(out_path, frames, n_frames, W, H, fps, song_path=song_path, audio_start=start,
                audio_duration=duration, video_kbps=budget, crf=24, audio_kbps=audio_kbps, fade=True)
        size = out_path.stat().st_size
        if size <= max_bytes:
            return out_path
        budget *= 0.7 * max_bytes / size
        if budget * 1000.0 / (W * H * fps) < MIN_BITS_PER_PIXEL:
            height = int(height * 0.75)
            max_width = int(max_width * 0.75)
    out_path.unlink(missing_ok=True)
    raise RenderError("The preview came out too large to send.")


def render_preview(
    shots: list[Shot],
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    start: float,
    end: float,
    numbers: Sequence[int] | None = None,
    max_height: int = 480,
    max_bytes: int = 2_000_000,
    fps: float = 20,
    aspect: float | None = None,
    show_labels: bool = False,
    fill: str = "blur",
) -> Path:
    """Up to six candidates for one song segment ``[start, end)``, tiled 3x2 and numbered.

    Each tile is its shot retimed onto the segment; a yellow badge in its top-left corner shows
    its number (``numbers``, default 1..n) large enough to read on a phone. The clip carries the
    segment's audio (AAC). At most ``max_height`` tall (and 1280 wide) and ``max_bytes`` large:
    the size is checked after encoding and the preview re-encoded smaller when over.
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(shots) + 1))
    if len(numbers) != len(shots):
        raise ValueError("one number per shot")
    return _render_grid(shots, song_path, out_path, start, end, numbers, max_height, max_bytes, fps,
                        aspect, show_labels, fill)


def render_single_preview(
    shot: Shot,
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    number: int | None = None,
    max_height: int = 480,
    max_bytes: int = 2_000_000,
    fps: float = 20,
    aspect: float | None = None,
    show_labels: bool = False,
    fill: str = "blur",
) -> Path:
    """One candidate on its song segment (``[shot.dst_start, shot.dst_end)`` unless given), badge optional."""
    start = shot.dst_start if start is None else start
    end = shot.dst_end if end is None else end
    return _render_grid([shot], song_path, out_path, start, end, None if number is None else [number],
                        max_height, max_bytes, fps, aspect, show_labels, fill, max_width=max_height * 2)
