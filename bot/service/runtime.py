"""What the service's parts share while the bot runs: settings, the bot, the repositories, the
engine (its process pool, or Celery workers), per-session locks and the job runners' wake-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncContextManager

from telegram import Bot

from storage import Database
from storage.files import FileCacheRepo
from storage.inbox import UpdateInbox
from storage.jobs import JobRepo
from storage.locks import SessionLocks
from storage.sessions import SessionRepo
from storage.versions import VersionRepo
from storage.votes import VoteRepo

from ..config import BotSettings
from .jobs import EnginePool


@dataclass
class Runtime:
    settings: BotSettings
    bot: Bot
    db: Database
    engine: EnginePool
    wake: asyncio.Event  # set when a job was queued, so an idle runner claims it at once
    sessions: SessionRepo = field(init=False)
    jobs: JobRepo = field(init=False)
    votes: VoteRepo = field(init=False)
    files: FileCacheRepo = field(init=False)
    versions: VersionRepo = field(init=False)
    inbox: UpdateInbox = field(init=False)
    locks: SessionLocks = field(init=False)
    # session id -> its song's descriptors being made (see stages.song_descriptors)
    describing: dict[str, asyncio.Future] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sessions = SessionRepo(self.db)
        self.jobs = JobRepo(self.db)
        self.votes = VoteRepo(self.db)
        self.files = FileCacheRepo(self.db)
        self.versions = VersionRepo(self.db)
        self.inbox = UpdateInbox(self.db)
        self.locks = SessionLocks(self.db)

    def lock(self, session_id: str) -> AsyncContextManager[None]:
        """One change of a session at a time (a button, a cancel, closing a vote), across every
        bot process. Held around state changes only, never across engine work or uploads."""
        return self.locks.hold(session_id)

    def session_dir(self, session_id: str) -> Path:
        # under the media root: the engine workers (maybe on other machines) read and write here
        path = self.settings.engine.media_dir / "sessions" / session_id
        path.mkdir(parents=True, exist_ok=True)
        return path
