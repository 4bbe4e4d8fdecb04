"""The bot's settings, from the environment and ``.env`` (every variable is in ``.env.example``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from choreo_engine.settings import Settings, _int


def load_dotenv() -> None:
    """Read ``.env`` from the working directory, without overriding the real environment."""
    try:
        from dotenv import load_dotenv as _load
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    _load(override=False)


@dataclass(frozen=True)
class BotSettings:
    token: str
    api_base_url: str | None  # e.g. http://127.0.0.1:8081/bot for a local Bot API server
    api_file_url: str | None
    workers: int
    max_file_mb: int  # 20: the cloud Bot API's download limit
    vote_timeout_seconds: int
    engine: Settings = field(default_factory=Settings.from_env)
    job_attempts: int = 5  # a job that failed (or whose process died) this often is given up
    job_deadline_seconds: float = 900.0  # a job running longer is abandoned (its engine worker replaced)
    max_open_songs: int = 2  # per person, across chats (0: no limit)
    max_open_songs_per_group: int = 5  # per group chat (0: no limit)

    @property
    def max_song_seconds(self) -> float:
        return self.engine.max_song_seconds

    @classmethod
    def from_env(cls) -> "BotSettings":
        load_dotenv()
        return cls(
            token=os.environ.get("TELEGRAM_BOT_TOKEN", "").strip(),
            api_base_url=os.environ.get("TELEGRAM_API_BASE_URL", "").strip() or None,
            api_file_url=os.environ.get("TELEGRAM_API_FILE_URL", "").strip() or None,
            workers=max(1, _int("CHOREO_WORKERS", 2)),
            max_file_mb=_int("CHOREO_MAX_FILE_MB", 20),
            vote_timeout_seconds=_int("CHOREO_VOTE_TIMEOUT_SECONDS", 120),
            engine=Settings.from_env(),
            job_attempts=max(1, _int("CHOREO_JOB_ATTEMPTS", 5)),
            job_deadline_seconds=float(os.environ.get("CHOREO_JOB_DEADLINE_SECONDS", "").strip() or 900),
            max_open_songs=max(0, _int("CHOREO_MAX_OPEN_SONGS", 2)),
            max_open_songs_per_group=max(0, _int("CHOREO_MAX_OPEN_SONGS_PER_GROUP", 5)),
        )
