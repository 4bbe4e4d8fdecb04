"""A credits card at the end of a dance video: the source videos whose moves it uses.

Optional (``CHOREO_CREDITS_CARD``): appending re-encodes the whole video once. The card is drawn
at the video's size and joined to it, with silence under it, by ffmpeg's concat.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from .. import ffmpeg

CARD_SECONDS = 3.0
# At most this many credit lines fit on the card; more are summed up as "and N more".
MAX_LINES = 8


def credits_card(lines: list[str], width: int, height: int) -> np.ndarray:
    """The card as a BGR image: a title and one line per source, light on dark (DejaVu Sans, the
    font matplotlib ships, so names beyond ASCII are drawn)."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font_path = font_manager.findfont("DejaVu Sans")
    scale = max(0.35, height / 720)
    title_font = ImageFont.truetype(font_path, int(48 * scale))
    font = ImageFont.truetype(font_path, int(28 * scale))
    chars = max(20, int(width / (16 * scale)))
    shown = [w for line in lines[:MAX_LINES] for w in textwrap.wrap(line, chars)[:2]]
    if len(lines) > MAX_LINES:
        shown.append(f"and {len(lines) - MAX_LINES} more")
    card = Image.new("RGB", (width, height), (31, 32, 40))
    draw = ImageDraw.Draw(card)
    step = int(42 * scale)
    x, y = int(40 * scale), max(int(40 * scale), (height - step * (len(shown) + 2)) // 2)
    draw.text((x, y), "Dance sources", font=title_font, fill=(255, 255, 255))
    for i, line in enumerate(shown):
        draw.text((x, y + step * (i + 2)), line, font=font, fill=(225, 225, 225))
    return np.asarray(card)[:, :, ::-1].copy()


def append_credits_card(video_path: str | os.PathLike, lines: list[str], seconds: float = CARD_SECONDS) -> Path:
    """Append the credits card for ``lines`` to the video (in place); nothing to do without lines."""
    import cv2

    video_path = Path(video_path)
    if not lines:
        return video_path
    info = ffmpeg.probe_video(video_path)
    with tempfile.TemporaryDirectory(prefix="choreo-credits-") as tmp:
        card = Path(tmp) / "card.png"
        cv2.imwrite(str(card), credits_card(lines, info.width, info.height))
        out = Path(tmp) / f"with-credits{video_path.suffix}"
        audio_fmt = "aformat=sample_fmts=fltp:sample_rates=44100:channel_layouts=stereo"
        ffmpeg.run([
            "-nostdin", "-v", "error", "-y", "-i", str(video_path),
            "-loop", "1", "-framerate", f"{info.fps:g}", "-t", f"{seconds:g}", "-i", str(card),
            "-f", "lavfi", "-t", f"{seconds:g}", "-i", "anullsrc=r=44100:cl=stereo",
            "-filter_complex",
            f"[0:v]setsar=1,format=yuv420p[v0];[1:v]setsar=1,format=yuv420p[v1];[0:a]{audio_fmt}[a0];"
            f"[2:a]{audio_fmt}[a1];[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]",
            "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
            "-c:a", "aac", "-movflags", "+faststart", str(out),
        ], timeout=ffmpeg.timeout_for(info.duration + seconds), check=True)
        os.replace(out, video_path)
    return video_path
