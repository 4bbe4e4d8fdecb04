"""Real data for tests, read in place from ../shared/data (``CHOREO_SHARED_DATA`` moves it)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from choreo_engine.settings import Settings, shared_data_dir

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED = shared_data_dir()
OUTPUT = PROJECT_ROOT / "tests" / "output"


def in_ci() -> bool:
    """Running in CI (``CI=true``), where nothing a test needs may be missing."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip for a developer without it; in CI, fail: there a missing requirement is a broken run."""
    if in_ci():
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"shared data not found: {path} (set CHOREO_SHARED_DATA)")
    return path


def music_tracks() -> list[Path]:
    return sorted((SHARED / "music").glob("*/*.ogg"))


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg (there is no system ffmpeg)."""
    from choreo_engine import ffmpeg as engine_ffmpeg

    # the helper does not know how long its media are: the bound is an hour's worth
    engine_ffmpeg.run(["-nostdin", "-v", "error", "-y", *args], timeout=engine_ffmpeg.timeout_for(None), check=True)


def settings_for(data_dir: Path) -> Settings:
    """The engine settings from the environment, with ``data_dir`` as the data directory."""
    return dataclasses.replace(Settings.from_env(), data_dir=data_dir)


def aba_song():
    """A B A cut from a real song (Vibe Ace), A and B 8 bars of 4 each, cut on the song's own
    downbeats: (samples, seconds of A). For tests of sections and motifs."""
    import numpy as np

    from choreo_engine.music import audio

    y = audio.decode(shared("music", "librosa-data", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"), max_seconds=None)
    sr = audio.SAMPLE_RATE
    whole = audio.analyze(y)
    beats, first = whole.beats, int(whole.downbeats[1])  # 32 beats from a downbeat: 8 bars of 4
    a = y[int(beats[first] * sr): int(beats[first + 32] * sr)]
    b = y[int(beats[first + 32] * sr): int(beats[first + 64] * sr)]
    return np.concatenate([a, b, a]), len(a) / sr
