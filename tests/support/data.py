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
