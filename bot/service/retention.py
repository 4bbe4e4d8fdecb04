"""The retention sweep on its schedule: the settings made a policy, a sweep at start, every
``CHOREO_SWEEP_MINUTES`` and whenever the disk is full (``storage.retention`` decides what goes).

Deleting a finished session's folder holds that session's lock, so no button turns it back into
an open session half-way. What a user can still reach after the files are gone: a delivered
dance is sent again by its Telegram file id (``Messages.send_cached_video``), the other mode is
rendered from the song fetched again from Telegram, /history and inline sharing read rows only;
when neither the file id nor the files are left, :class:`MediaGoneError` says so in the chat.
"""

from __future__ import annotations

import asyncio
import logging

from storage.retention import DataDirSweep, RetentionPolicy, SweepReport

from ..config import BotSettings
from .runtime import Runtime

log = logging.getLogger(__name__)

HOUR = 3600.0


class MediaGoneError(Exception):
    """A finished dance's video is neither stored nor known to Telegram any more."""


def policy_of(settings: BotSettings) -> RetentionPolicy:
    return RetentionPolicy(
        keep_done=settings.keep_done_hours * HOUR,
        keep_failed=settings.keep_failed_hours * HOUR,
        keep_cancelled=settings.keep_cancelled_hours * HOUR,
        budget_bytes=int(settings.data_budget_mb * 1024 * 1024) if settings.data_budget_mb else None,
        min_free_bytes=int(settings.min_free_mb * 1024 * 1024),
        keep_rows=settings.keep_rows_days * 24 * HOUR if settings.keep_rows_days else None,
    )


class Retention:
    """Runs :class:`storage.retention.DataDirSweep` at start, on its interval and on request."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.policy = policy_of(rt.settings)
        self.interval = rt.settings.sweep_minutes * 60.0
        self.store = DataDirSweep(rt.db, rt.settings.engine.media_dir)
        self.last: SweepReport | None = None
        self._requested = asyncio.Event()
        self._one_at_a_time = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="choreo-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def request(self) -> None:
        """A sweep now (the disk is full), not at the next interval."""
        self._requested.set()

    async def sweep(self, now: float | None = None) -> SweepReport:
        async with self._one_at_a_time:
            report = await self.store.sweep(self.policy, now, guard=self.rt.lock)
        self.last = report
        if report.removed:
            log.info("retention sweep: %s", report.as_dict())
        if report.over_budget:
            log.warning("the data directory holds %.0f MB, over its budget of %.0f MB, with nothing more to "
                        "remove (the library and open songs stay)", report.bytes_after / 2**20,
                        report.budget_bytes / 2**20)
        return report

    async def _loop(self) -> None:
        while True:
            self._requested.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a full disk, a locked database: the next sweep tries again
                log.exception("retention sweep failed")
            try:
                await asyncio.wait_for(self._requested.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass
