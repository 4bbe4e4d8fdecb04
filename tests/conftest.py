"""Shared fixtures: the real data in ../shared/data, read in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.data import OUTPUT, SHARED, in_ci, settings_for, shared
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)


def pytest_configure(config: pytest.Config) -> None:
    """In CI a missing ../shared fails the whole run at once instead of skipping what needs it."""
    if in_ci() and not SHARED.is_dir():
        raise pytest.UsageError(f"CI=true but the shared data is missing at {SHARED} (set CHOREO_SHARED_DATA)")


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


# --------------------------------------------------------------------------- a real library

STARTER_SONGS = 8


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory) -> Path:
    """A data directory holding a small starter library plus the real dancer (built once)."""
    import asyncio

    from bot.admin import library as library_admin, starter_library

    dancer = shared("dance", "video_mgt", "dancer.avi")
    reuse = os.environ.get("CHOREO_TEST_LIBRARY")  # developers: keep one built library between runs
    if reuse and (Path(reuse) / "choreo.db").exists():
        return Path(reuse)
    data_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("library") / "data"
    settings = settings_for(data_dir)
    summary = asyncio.run(starter_library.build(n_songs=STARTER_SONGS, workers=2, settings=settings))
    assert summary["added"] == STARTER_SONGS
    results = asyncio.run(library_admin.add_videos([dancer], settings=settings))
    assert results[0].status == "added", results[0].message
    return data_dir


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory):
    """The hostile files posing as songs (tests/support/hostile.py), made once per run."""
    from tests.support.hostile import make_corpus

    return make_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def library_settings(library_dir):
    return settings_for(library_dir)


@pytest.fixture(scope="session")
def loaded(library_settings):
    from bot import choreography

    return choreography.loaded_library(library_settings)
