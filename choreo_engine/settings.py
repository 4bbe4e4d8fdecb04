"""Engine settings read from the environment (and ``.env``), with documented defaults.

Every variable is listed in ``.env.example``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def shared_data_dir() -> Path:
    """The shared real data (tests and benchmarks only): ``CHOREO_SHARED_DATA`` or ``../shared/data``."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("CHOREO_SHARED_DATA", default))


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    max_song_seconds: float
    beats_per_segment: int
    descriptor: str
    seed: int
    # songs, previews, renders and library media: a volume shared by the bot and every worker
    # when they run on several machines (CHOREO_MEDIA_DIR); by default the data dir itself
    media_root: Path | None = None
    # where the bot's state lives (CHOREO_DATABASE_URL, e.g. postgresql+asyncpg://…); the engine
    # never opens it, but workers on other machines need it to load the library
    database_url: str = ""

    @property
    def db_path(self) -> Path:
        return self.data_dir / "choreo.db"

    @property
    def database(self) -> str | Path:
        """The database to open: ``CHOREO_DATABASE_URL``, or SQLite in the data dir."""
        return self.database_url or self.db_path

    @property
    def media_dir(self) -> Path:
        return self.media_root if self.media_root is not None else self.data_dir

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            data_dir=Path(os.environ.get("CHOREO_DATA_DIR", "./data")).expanduser(),
            max_song_seconds=_float("CHOREO_MAX_SONG_SECONDS", 600.0),
            beats_per_segment=_int("CHOREO_BEATS_PER_SEGMENT", 8),
            descriptor=os.environ.get("CHOREO_DESCRIPTOR", "default"),
            seed=_int("CHOREO_SEED", 0),
            media_root=Path(os.environ["CHOREO_MEDIA_DIR"]).expanduser()
            if os.environ.get("CHOREO_MEDIA_DIR", "").strip() else None,
            database_url=os.environ.get("CHOREO_DATABASE_URL", "").strip(),
        )
