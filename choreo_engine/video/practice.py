"""The practice video: the finished dance mirrored, slowed down with the music's pitch kept,
with the 8-count, the part and its section on screen, and optionally one part looped.

Made from the same shots and song as the final video (:func:`.final.render_final`):

- **Time**: output frame ``k`` shows song time ``k / fps * speed`` (a loop: the part's start
  plus that time modulo the part's length, :data:`LOOP_REPEATS` times). The cross-edit samples
  the clips on the song's clock, so a slow-down shows every source frame for longer.
- **Mirror**: each frame is flipped left-right (a dance-studio mirror: the dancer's right hand
  shows on screen-right, so a learner facing the screen moves the same side).
- **Sound**: ffmpeg's ``atempo`` time-stretch (WSOLA: the tempo changes, the pitch does not),
  after ``atrim`` + ``aloop`` for a loop, written to a WAV that the encoder muxes as AAC.
- **Counts**: a band under the picture (so it never hides the feet): "1 2 3 4 5 6 7 8" with
  the current count highlighted, the 1 bigger on a phrase start (:mod:`..music.counts`), the
  part number and section, the speed and the loop round. Drawn with Pillow once per distinct
  state (a few per beat) and copied into every frame.

Why Python frames and not ffmpeg's filters: the cross-edit already produces every frame in
Python (:mod:`.sources`), so ``cv2.flip`` and a band copy cost ~1 ms a frame, whereas
``hflip,setpts,drawtext`` would need the final video decoded again, a font file on the machine
and one ``drawtext`` enable-expression per beat. x264 stays the bottleneck, as for the final video:
measured back to back on War of Freedom (174.9 s, 0.5x, 540x648, load 14-17), this route took
24.4 s and 36.1 s where ffmpeg's ``scale,hflip,setpts,pad`` + ``atempo`` from the finished final
video, without any counts, took 19.4 s and 32.8 s (and needs the final video made first).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from .. import ffmpeg
from ..music.counts import BeatCounts, count_beats, section_labels
from .encode import audio_bitrate, encode_within, forward_only, video_bitrate_budget
from .final import FINAL_HEIGHTS
from .preview import _font
from .shots import Shot, check_order
from .sources import BLEND_FRAMES, auto_aspect, clip_frames, even, frame_size
from .stage import avatar_frames

__all__ = ["LOOP_REPEATS", "SPEEDS", "PracticeTimeline", "practice_timeline", "render_practice", "stretch_audio"]

SPEEDS = (0.5, 0.75, 1.0)
LOOP_REPEATS = 4
# The picture's shorter side: a practice video at 0.5x is twice the song's length, and 540p
# halves the encoding time of 720p while showing the body's moves as clearly.
PRACTICE_HEIGHT = 540
# The count band's height as a share of the picture's height (at least BAND_MIN_PX).
BAND_SHARE = 0.2
BAND_MIN_PX = 72
HIGHLIGHT = (63, 210, 255)  # BGR of #FFD23F, the previews' badge yellow
PHRASE = (80, 120, 255)  # BGR: a warmer orange-red for the 1 that starts a phrase
INK = (20, 20, 20)
DIM = (150, 150, 150)
BAND_BG = (28, 28, 28)


class PracticeTimeline:
    """The song time shown at each output time, and the song span the sound is cut from."""

    def __init__(self, duration: float, speed: float, part: tuple[float, float] | None = None,
                 repeats: int = LOOP_REPEATS) -> None:
        if not 0.25 <= speed <= 2.0:
            raise ValueError(f"speed {speed} outside 0.25-2")
        self.speed = float(speed)
        self.start, self.end = part if part is not None else (0.0, float(duration))
        if not self.end > self.start:
            raise ValueError("empty part")
        self.looped = part is not None
        self.repeats = repeats if self.looped else 1

    @property
    def span(self) -> float:
        return self.end - self.start

    @property
    def duration(self) -> float:
        """Seconds of practice video."""
        return self.span * self.repeats / self.speed

    def song_times(self, out_times: np.ndarray) -> np.ndarray:
        played = np.asarray(out_times, dtype=float) * self.speed
        if self.repeats > 1:
            played = np.minimum(played, self.span * self.repeats - 1e-6) % self.span
        return self.start + np.minimum(played, self.span)

    def round_of(self, out_times: np.ndarray) -> np.ndarray:
        """Which repeat (0-based) each output time is in."""
        played = np.asarray(out_times, dtype=float) * self.speed
        return np.minimum((played // self.span).astype(int), self.repeats - 1)


def practice_timeline(analysis, duration: float, speed: float, loop_part: int | None = None) -> PracticeTimeline:
    """The timeline of a whole-dance practice video, or of part ``loop_part`` (0-based) looped."""
    if loop_part is None:
        return PracticeTimeline(duration, speed)
    if not 0 <= loop_part < len(analysis.segments):
        raise ValueError(f"no part {loop_part + 1}: the dance has {len(analysis.segments)}")
    seg = analysis.segments[loop_part]
    return PracticeTimeline(duration, speed, (seg.start, seg.end))


def stretch_audio(song_path: str | os.PathLike, out_path: str | os.PathLike, timeline: PracticeTimeline,
                  sr: int = 44100) -> Path:
    """The song's sound for ``timeline`` as 16-bit WAV: cut, looped and time-stretched (pitch kept)."""
    filters = [f"aresample={sr}"]
    if timeline.looped:
        filters += [f"atrim=start={timeline.start:.4f}:end={timeline.end:.4f}", "asetpts=PTS-STARTPTS"]
    if timeline.repeats > 1:
        filters.append(f"aloop=loop={timeline.repeats - 1}:size={int(round(timeline.span * sr))}")
    if abs(timeline.speed - 1.0) > 1e-6:
        filters.append(f"atempo={timeline.speed:.4f}")  # 0.5-100 in one pass
    out_path = Path(out_path)
    ffmpeg.run(["-nostdin", "-v", "error", "-y", "-i", str(song_path), "-vn", "-af", ",".join(filters),
                "-ac", "2", "-c:a", "pcm_s16le", "-f", "wav", str(out_path)],
               timeout=ffmpeg.timeout_for(timeline.duration, ffmpeg.AUDIO_SECONDS_PER_SECOND), check=True)
    return out_path


# --------------------------------------------------------------------------- the count band


class CountBand:
    """The band under the picture, drawn once per state (count, part, phrase, round)."""

    def __init__(self, W: int, band_h: int, counts: BeatCounts, sections: list[str | None], n_parts: int,
                 speed: float, repeats: int, part_text: str) -> None:
        self.W, self.h = W, band_h
        self.counts, self.sections, self.n_parts = counts, sections, n_parts
        self.speed, self.repeats, self.part_text = speed, repeats, part_text
        self.cache: dict[tuple, np.ndarray] = {}

    def state(self, song_t: float, part: int, round_: int) -> tuple:
        b = int(self.counts.beat_at(song_t))
        if b < 0:  # before the first beat: no count yet
            return (0, False, part, round_)
        return (int(self.counts.counts[b]), bool(self.counts.phrase_start[b]), int(self.counts.parts[b]), round_)

    def image(self, state: tuple) -> np.ndarray:
        band = self.cache.get(state)
        if band is None:
            band = self.cache[state] = self._draw(*state)
        return band

    def _draw(self, count: int, phrase: bool, part: int, round_: int) -> np.ndarray:
        from PIL import Image, ImageDraw

        W, h = self.W, self.h
        img = Image.new("RGB", (W, h), BAND_BG[::-1])
        d = ImageDraw.Draw(img)
        info_h = int(h * 0.32)
        small = _font(max(10, int(info_h * 0.72)), bold=False)
        left = self.part_text.format(part=part + 1, total=self.n_parts)
        section = self.sections[part] if part < len(self.sections) else None
        if section:
            left += f" · {section[:1].upper()}{section[1:]}"
        d.text((int(0.02 * W), info_h // 2 + 2), left, font=small, fill=(235, 235, 235), anchor="lm")
        right = f"{self.speed:g}×" + (f" · {round_ + 1}/{self.repeats}" if self.repeats > 1 else "")
        d.text((W - int(0.02 * W), info_h // 2 + 2), "⇆ " + right, font=small, fill=(235, 235, 235), anchor="rm")
        cycle = self.counts.cycle
        row_top, row_h = info_h, h - info_h
        cell = min(W * 0.9 / cycle, row_h * 1.6)
        x0 = (W - cell * cycle) / 2
        cy = row_top + row_h / 2
        for n in range(1, cycle + 1):
            cx = x0 + (n - 0.5) * cell
            current = n == count
            scale = 1.0 if not (current and n == 1 and phrase) else 1.3
            r = min(cell * 0.42, row_h * 0.36) * scale
            if current:
                colour = PHRASE if (n == 1 and phrase) else HIGHLIGHT
                d.rounded_rectangle([cx - r, cy - r, cx + r, cy + r], radius=int(r * 0.35), fill=colour[::-1])
            size = int(r * (1.35 if n == 1 else 1.15))
            d.text((cx, cy), str(n), font=_font(max(8, size), bold=True),
                   fill=INK[::-1] if current else DIM[::-1], anchor="mm")
        return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


def _band_height(H: int) -> int:
    return even(max(BAND_MIN_PX, H * BAND_SHARE))


def practice_frames(pictures: Iterator[np.ndarray], song_times: np.ndarray, rounds: np.ndarray, parts: np.ndarray,
                    band: CountBand, W: int, H: int, mirror: bool) -> Iterator[np.ndarray]:
    """Each picture flipped (``mirror``) above its count band, as one ``W x (H + band)`` frame."""
    out = np.empty((H + band.h, W, 3), np.uint8)
    for k, picture in enumerate(pictures):
        if mirror:
            cv2.flip(picture, 1, dst=out[:H])
        else:
            out[:H] = picture
        out[H:] = band.image(band.state(float(song_times[k]), int(parts[k]), int(rounds[k])))
        yield out


# --------------------------------------------------------------------------- the render


def render_practice(
    shots: Sequence[Shot],
    analysis,
    song_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    speed: float = 0.5,
    loop_part: int | None = None,
    mirror: bool = True,
    mode: str = "clips",
    height: int = PRACTICE_HEIGHT,
    fps: float = 25,
    max_bytes: int = 50_000_000,
    progress: Callable[[float], None] | None = None,
    part_text: str = "Part {part}/{total}",
    aspect: float | None = None,
    palette: str = "studio",
    crf: int = 23,
    preset: str = "veryfast",
) -> Path:
    """The practice video of a finished dance: H.264 / AAC mp4 under ``max_bytes`` that Telegram plays inline.

    ``shots`` and ``song_path`` are what :func:`render_final` takes (one shot per part of
    ``analysis``, a ``SongAnalysis``); ``speed`` is 0.5, 0.75 or 1 (any of 0.25-2 works);
    ``loop_part`` (0-based) repeats that part :data:`LOOP_REPEATS` times instead of the whole
    dance; ``mirror`` flips the picture; ``part_text`` formats the part label (``{part}``,
    ``{total}``), so a caller can give it in the viewer's language.
    """
    if mode not in ("clips", "avatar"):
        raise ValueError(f"unknown mode {mode!r}")
    check_order(shots)
    out_path = Path(out_path)
    song_duration = ffmpeg.probe_duration(song_path) or shots[-1].dst_end
    timeline = practice_timeline(analysis, song_duration, speed, loop_part)
    duration = timeline.duration
    n_frames = max(1, int(round(duration * fps)))
    out_times = np.arange(n_frames) / fps
    song_times = timeline.song_times(out_times)
    rounds = timeline.round_of(out_times)
    starts = np.array([seg.start for seg in analysis.segments])
    parts = np.clip(np.searchsorted(starts, song_times + 1e-6, side="right") - 1, 0, len(starts) - 1)
    if loop_part is not None:
        parts[:] = loop_part
    counts = count_beats(analysis)
    sections = section_labels(analysis)
    used = [shots[loop_part]] if loop_part is not None else list(shots)
    aspect = aspect or auto_aspect(used)

    audio_kbps = audio_bitrate(duration, max_bytes)
    budget = video_bitrate_budget(duration, max_bytes, audio_kbps)
    heights = [h for h in FINAL_HEIGHTS if h < height]

    def pixels(short_side: int) -> int:
        W, H = frame_size(short_side, aspect)
        return W * (H + _band_height(H))

    report = forward_only(progress)

    def frames_at(short: int):
        W, H = frame_size(short, aspect)
        band = CountBand(W, _band_height(H), counts, sections, len(analysis.segments), speed, timeline.repeats,
                         part_text)
        pictures = (clip_frames(used, song_times, W, H, BLEND_FRAMES, fps, "blur") if mode == "clips"
                    else avatar_frames(used, song_times, W, H, palette))
        return practice_frames(pictures, song_times, rounds, parts, band, W, H, mirror), W, H + band.h

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="practice-", dir=out_path.parent) as tmp:
        sound = stretch_audio(song_path, Path(tmp) / "sound.wav", timeline)
        encode_within(out_path, frames_at, n_frames, fps, short=height, smaller=heights, pixels=pixels,
                      video_kbps=budget, max_bytes=max_bytes, song_path=sound, audio_start=0.0,
                      audio_duration=duration, crf=crf, preset=preset, audio_kbps=audio_kbps,
                      progress=lambda f: report(min(f, 0.999)))
    report(1.0)
    return out_path
