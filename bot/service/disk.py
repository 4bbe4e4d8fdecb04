"""A job's stage on a full disk: the user is told, nothing half-written stays, and the stage runs
again by itself once there is room (no restart), or ends with a clear message when a dance's
media are gone for good.

A full disk shows up as ``ENOSPC`` (or ``EDQUOT``, ``EFBIG``) from a write, as SQLite's
"database or disk is full", or as ffmpeg's "No space left on device" inside an engine error
that crossed the process pool; :func:`storage.retention.is_disk_full` knows them all. The stage's runner waits
(the job stays claimed: with a full disk every other job would fail the same way), a sweep is
asked for at once, and the stage is tried again as soon as free space grows, else on a back-off.
"""

from __future__ import annotations

import asyncio
import html
import logging
import shutil
import time
from typing import Awaitable, Callable

from telegram.error import TelegramError

from storage.retention import DataDirSweep, is_disk_full
from storage.rows import OPEN_STATUSES, Job, SessionStatus

from .. import worker
from ..texts import t
from . import keyboards
from .messages import whose
from .retention import MediaGoneError, Retention
from .runtime import Runtime

log = logging.getLogger(__name__)

# seconds between two tries of a stage while the disk stays full (the last one repeats)
BACKOFF = (2.0, 5.0, 10.0, 30.0, 60.0)
# free space that grew by this much since the failure is worth a try before the back-off is over
ROOM_GAINED = 4 * 1024 * 1024
# a stage that still finds the disk full after this long fails as any other would
GIVE_UP_SECONDS = 3600.0


class DiskGuard:
    """Wraps the job runners' stage function (see the module docstring)."""

    def __init__(self, rt: Runtime, retention: Retention, backoff: tuple[float, ...] = BACKOFF,
                 give_up_after: float = GIVE_UP_SECONDS) -> None:
        self.rt = rt
        self.retention = retention
        self.backoff = backoff
        self.give_up_after = give_up_after
        self.files = DataDirSweep(rt.db, rt.settings.engine.media_dir)

    def wrap(self, run: Callable[[Job], Awaitable[None]]) -> Callable[[Job], Awaitable[None]]:
        async def guarded(job: Job) -> None:
            await self.run(job, run)

        return guarded

    async def run(self, job: Job, run: Callable[[Job], Awaitable[None]]) -> None:
        first_failure: float | None = None
        attempt = 0
        while True:
            started = time.time()
            try:
                await run(job)
                return
            except MediaGoneError:
                await self.media_gone(job.session_id)
                return
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                first_failure = first_failure or time.monotonic()
                await self.discard_partial(job.session_id, started)
                if time.monotonic() - first_failure > self.give_up_after:
                    raise
                log.warning("job %s (%s): the disk is full (%s); waiting for room", job.id, job.kind, exc)
            if attempt == 0:
                await self.tell(job.session_id)
            self.retention.request()
            if not await self.wait_for_room(job.session_id, self.backoff[min(attempt, len(self.backoff) - 1)]):
                return  # cancelled (or closed) meanwhile: nothing left to do
            attempt += 1

    async def discard_partial(self, session_id: str, since: float) -> None:
        """Files the failed stage wrote that no row refers to (a half-downloaded song, a preview
        or a video cut short, a sheet): gone, so a later try starts clean."""
        session = await self.rt.sessions.get(session_id)
        if session is None:
            return
        keep = [session.song_path]
        for mode in keyboards.RENDER_MODES:
            result = await self.rt.sessions.result(session_id, mode)
            if result is not None:
                keep += [result.video_path, result.sheet_path, str(worker.poster_of(result.video_path))]
        for path in self.files.partial_files(session_id, since - 1.0, keep):
            path.unlink(missing_ok=True)

    async def tell(self, session_id: str) -> None:
        session = await self.rt.sessions.get(session_id)
        if session is None:
            return
        text = t(session.language, "disk_full", song=html.escape(session.song_name)) + whose(session)
        try:
            await self.rt.bot.send_message(session.chat_id, text, parse_mode="HTML")
        except TelegramError as exc:  # the song still goes on; only the notice did not reach the chat
            log.info("could not tell chat %s the disk is full: %s", session.chat_id, exc)

    async def wait_for_room(self, session_id: str, seconds: float) -> bool:
        """Sleep up to ``seconds``, less when free space grows; False when the session ended meanwhile."""
        data_dir = self.rt.settings.engine.media_dir  # where songs and renders fill the disk
        free_before = shutil.disk_usage(data_dir).free
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            session = await self.rt.sessions.get(session_id)
            if session is None or session.status not in OPEN_STATUSES:
                return False
            if shutil.disk_usage(data_dir).free >= free_before + ROOM_GAINED:
                break
        return True

    async def media_gone(self, session_id: str) -> None:
        """A delivered dance asked for again, with neither its file nor its file id left."""
        session = await self.rt.sessions.get(session_id)
        if session is None:
            return
        await self.rt.sessions.set_status(session_id, SessionStatus.DONE,
                                          only_if=(SessionStatus.RENDERING, SessionStatus.DELIVERING))
        try:
            await self.rt.bot.send_message(session.chat_id, t(session.language, "media_gone") + whose(session),
                                           parse_mode="HTML")
        except TelegramError as exc:
            log.info("could not tell chat %s its dance is gone: %s", session.chat_id, exc)
