"""Shared fixtures: the real data in ../shared/data, read in place."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from choreo_engine.settings import shared_data_dir

SHARED = shared_data_dir()
OUTPUT = Path(__file__).resolve().parent / "output"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (set CHOREO_SHARED_DATA)")
    return path


def music_tracks() -> list[Path]:
    return sorted((SHARED / "music").glob("*/*.ogg"))


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg (there is no system ffmpeg)."""
    from choreo_engine.audio import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave files worth looking at (ignored by git)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CHOREO_DATA_DIR for one test."""
    monkeypatch.setenv("CHOREO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
