"""The procedural starter library: synthesized songs danced by a mannequin.

A fresh machine has no dance videos and may not download any, so Choreo makes its own: each
planned song (:func:`choreo_engine.starter.synth.demo_song_plan`) is synthesized, choreographed in the
dance style of its music style (:mod:`choreo_engine.starter.choreograph`) with motion size following
the song's loudness, and rendered as a video of the mannequin (:mod:`choreo_engine.starter.mannequin`)
with the song as its sound track. The video is then ingested like any real one
(:func:`library.ingest_video`), labelled with its music style.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..dance import library
from . import mannequin, synth
from .choreograph import choreograph, dance_style_for

DEMO_WIDTH, DEMO_HEIGHT = 640, 360
DEMO_FPS = 20.0


@dataclass
class DemoClip:
    video_path: Path
    landmarks: np.ndarray  # (T, 33, 4) the generator's own keypoints
    music_style: str
    name: str
    moves: list[tuple[str, int, int]]


def palette_names() -> list[str]:
    return list(getattr(mannequin, "PALETTES", {}).keys()) or [None]


def demo_name(item: dict, index: int) -> str:
    return f"demo-{index:03d}-{item['style']}-{round(item['tempo'])}bpm"


def make_demo_clip(item: dict, out_dir: str | os.PathLike, index: int = 0) -> DemoClip:
    """Synthesize, choreograph and render one planned song as ``<out_dir>/<name>.mp4``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    song = synth.synthesize_song(**item)
    take = choreograph(song.beat_times, song.duration, DEMO_FPS, dance_style_for(song.style), song.beat_energy,
                       seed=int(item.get("seed", index)))
    landmarks = take.landmarks(DEMO_WIDTH, DEMO_HEIGHT)
    names = palette_names()
    palette = names[index % len(names)]
    name = demo_name(item, index)
    video = out_dir / f"{name}.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "song.wav"
        sf.write(wav, song.y, song.sr)
        frames = mannequin.render_video_frames(landmarks, DEMO_WIDTH, DEMO_HEIGHT, palette)
        mannequin.write_video(video, frames, DEMO_FPS, DEMO_WIDTH, DEMO_HEIGHT, audio_path=wav)
    return DemoClip(video, landmarks, song.style, name, take.moves)


# MediaPipe runs on every other frame of the starter clips (10 poses a second, interpolated):
# their motion is smooth and this halves the build time.
DEMO_POSE_STRIDE = 2


def build_and_ingest(item: dict, index: int, work_dir: str, video_dir: str, descriptor: str = "default") -> library.IngestedClip:
    """One starter clip end to end (run in a worker process): render, then ingest like a real video."""
    clip = make_demo_clip(item, work_dir, index)
    try:
        ingested = library.ingest_video(clip.video_path, video_dir, descriptor, generator_poses=clip.landmarks,
                                        style=clip.music_style, pose_stride=DEMO_POSE_STRIDE, move_video=True)
    finally:
        clip.video_path.unlink(missing_ok=True)
    ingested.name = clip.name
    return ingested
