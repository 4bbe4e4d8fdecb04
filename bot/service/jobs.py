"""Running jobs: the engine's bounded process pool and the runners that claim queued jobs.

Engine work never runs on the event loop; ``bot.worker`` holds the functions the pool runs.
Jobs live in the database (``storage.jobs``), so a killed process re-runs what was unfinished.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Awaitable, Callable

from telegram.error import Forbidden

from choreo_engine.settings import Settings
from storage.jobs import JobRepo
from storage.rows import Job, JobStatus
from storage.sessions import SessionRepo

from .. import worker

log = logging.getLogger(__name__)


class EnginePool:
    """``workers`` processes, each with the library loaded; a pool broken by a dead worker is replaced."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, initializer=worker.exit_with_parent)

    async def start(self, settings: Settings) -> None:
        self.pool = self._new_pool()
        loop = asyncio.get_running_loop()
        # Warm every worker (numba compile, library load) before the first song arrives.
        await asyncio.gather(*[loop.run_in_executor(self.pool, worker.warm_up, settings)
                               for _ in range(self.workers)])

    async def run(self, fn, *args):
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            return await loop.run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            # a worker died (out of memory, a crash in native code): this job fails, later ones
            # get a fresh pool instead of failing too (once, however many jobs saw it break)
            if self.pool is pool:
                log.error("a worker process died; starting a new pool")
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
            raise

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


class JobLoop:
    """Runners that claim jobs in order and hand each to ``run``; with nothing queued, ``idle``
    (closing due votes) runs, and a runner sleeps until ``wake`` or a second passes."""

    def __init__(self, jobs: JobRepo, sessions: SessionRepo, wake: asyncio.Event,
                 run: Callable[[Job], Awaitable[None]], idle: Callable[[], Awaitable[None]],
                 failed: Callable[[str, Exception], Awaitable[None]]) -> None:
        self.jobs = jobs
        self.sessions = sessions
        self.wake = wake
        self.run = run
        self.idle = idle
        self.failed = failed
        self._runners: list[asyncio.Task] = []

    def start(self, n: int) -> None:
        self._runners = [asyncio.create_task(self._run_jobs(), name=f"choreo-jobs-{i}") for i in range(n)]
        self.wake.set()

    async def stop(self) -> None:
        for task in self._runners:
            task.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        self._runners = []

    async def _run_jobs(self) -> None:
        while True:
            try:
                job = await self.jobs.claim()
                if job is None:
                    await self.idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # a runner must outlive any one error, or songs queue for ever
                log.exception("job runner: claiming a job or closing votes failed")
                job = None
            if job is None:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                await self.run(job)
                await self.jobs.finish(job.id, JobStatus.DONE)
            except asyncio.CancelledError:
                raise  # shutting down: the job stays 'running' and is re-queued at the next start
            except Forbidden as exc:  # the bot was removed from the chat or blocked: close quietly
                log.info("job %s: chat is gone (%s); closing its sessions", job.id, exc)
                await self.jobs.finish(job.id, JobStatus.DONE)
                session = await self.sessions.get(job.session_id)
                if session:
                    await self.sessions.close_chat(session.chat_id, f"chat unavailable: {exc}")
            except Exception as exc:
                log.exception("job %s failed", job)
                await self.jobs.finish(job.id, JobStatus.FAILED)
                await self.failed(job.session_id, exc)
