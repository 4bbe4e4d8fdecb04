"""The bot's settings, from the environment and ``.env`` (every variable is in ``.env.example``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from choreo_engine.settings import Settings, _float, _int


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
    # retention (bot.service.retention): how long a finished session's media stay, by how it ended
    keep_done_hours: float = 168.0
    keep_failed_hours: float = 24.0
    keep_cancelled_hours: float = 24.0
    data_budget_mb: float | None = 10240.0  # the whole data directory; None: no budget
    min_free_mb: float = 512.0  # free space on the data directory's disk the sweep keeps
    keep_rows_days: float | None = 90.0  # rows of long-finished sessions; None: kept for ever
    sweep_minutes: float = 15.0
    admin_ids: frozenset[int] = frozenset()  # who may /learn, /library, /forget (CHOREO_ADMIN_IDS)
    job_attempts: int = 5  # a job that failed (or whose process died) this often is given up
    job_deadline_seconds: float = 900.0  # a job running longer is abandoned (its engine worker replaced)
    max_open_songs: int = 2  # per person, across chats (0: no limit)
    max_open_songs_per_group: int = 5  # per group chat (0: no limit)
    # running past one machine (README "Running at scale"): empty means the embedded default
    broker_url: str = ""  # CHOREO_BROKER_URL, e.g. redis://…; empty: engine work in-process
    webhook_url: str = ""  # CHOREO_WEBHOOK_URL: Telegram posts updates here; empty: long polling
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str = ""
    # Celery workers (bot.tasks): a task's hard time limit, and how long Redis keeps a task of a
    # dead worker before handing it to another (0: the time limit and five minutes; never less)
    task_time_limit_seconds: float = 900.0
    broker_visibility_timeout_seconds: float = 0.0

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
            keep_done_hours=_float("CHOREO_KEEP_DONE_HOURS", 168.0),
            keep_failed_hours=_float("CHOREO_KEEP_FAILED_HOURS", 24.0),
            keep_cancelled_hours=_float("CHOREO_KEEP_CANCELLED_HOURS", 24.0),
            data_budget_mb=megabytes(os.environ.get("CHOREO_DATA_BUDGET", "10GB")),
            min_free_mb=_float("CHOREO_MIN_FREE_MB", 512.0),
            keep_rows_days=_float("CHOREO_KEEP_ROWS_DAYS", 90.0) or None,
            sweep_minutes=max(0.1, _float("CHOREO_SWEEP_MINUTES", 15.0)),
            admin_ids=admin_ids(os.environ.get("CHOREO_ADMIN_IDS", "")),
            job_attempts=max(1, _int("CHOREO_JOB_ATTEMPTS", 5)),
            job_deadline_seconds=float(os.environ.get("CHOREO_JOB_DEADLINE_SECONDS", "").strip() or 900),
            max_open_songs=max(0, _int("CHOREO_MAX_OPEN_SONGS", 2)),
            max_open_songs_per_group=max(0, _int("CHOREO_MAX_OPEN_SONGS_PER_GROUP", 5)),
            broker_url=os.environ.get("CHOREO_BROKER_URL", "").strip(),
            webhook_url=os.environ.get("CHOREO_WEBHOOK_URL", "").strip(),
            webhook_listen=os.environ.get("CHOREO_WEBHOOK_LISTEN", "").strip() or "0.0.0.0",
            webhook_port=_int("CHOREO_WEBHOOK_PORT", 8443),
            webhook_secret=os.environ.get("CHOREO_WEBHOOK_SECRET", "").strip(),
            task_time_limit_seconds=max(1.0, _float("CHOREO_TASK_TIME_LIMIT", 900.0)),
            broker_visibility_timeout_seconds=max(0.0, _float("CHOREO_BROKER_VISIBILITY_TIMEOUT", 0.0)),
        )


def megabytes(size: str) -> float | None:
    """``10GB``, ``1.5G``, ``800MB``, ``800`` (MB) -> megabytes; empty or 0: None (no limit)."""
    text = size.strip().upper().removesuffix("B")
    scale = {"G": 1024.0, "M": 1.0, "K": 1 / 1024}.get(text[-1:], None)
    value = float(text[:-1] if scale else text or 0) * (scale or 1.0)
    return value or None


def admin_ids(text: str) -> frozenset[int]:
    """Telegram user ids from a comma- or space-separated list (anything else is ignored)."""
    return frozenset(int(p) for p in text.replace(",", " ").split() if p.strip().lstrip("-").isdigit())
