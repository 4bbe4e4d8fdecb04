"""Running jobs: the engine's bounded process pool and the supervised runners that claim jobs.

Engine work never runs on the event loop; ``bot.worker`` holds the functions the pool runs.
Jobs live in the database (``storage.jobs``), so a killed process re-runs what was unfinished.
A runner outlives any error: each job has a deadline, a passing failure (a dead worker, a
Telegram hiccup, a busy database) queues it again, and a job tried ``attempts`` times (a job
that crashes the process counts too, at the next start) is given up with a message to the chat.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Awaitable, Callable

from telegram.error import Forbidden, NetworkError, RetryAfter

from choreo_engine.settings import Settings
from storage.db import PassingDatabaseError
from storage.jobs import JobRepo
from storage.rows import Job, JobStatus
from storage.sessions import SessionRepo

from .. import worker

log = logging.getLogger(__name__)

# failures that say nothing about the job itself: it is tried again (while attempts remain)
# (ConnectionError: a Celery broker out of reach, bot.tasks.BrokerUnreachable)
PASSING_FAILURES = (BrokenProcessPool, NetworkError, RetryAfter, PassingDatabaseError, TimeoutError, ConnectionError)
RETRY_PAUSE = 1.0  # seconds a runner waits after a passing failure before claiming again


class JobGaveUp(Exception):
    """A job failed (or ended the process) ``attempts`` times: its song is given up."""

    def __init__(self, attempts: int, last: Exception) -> None:
        super().__init__(f"given up after {attempts} attempt(s): {last!r}")
        self.attempts = attempts


class EnginePool:
    """``workers`` processes, each with the library loaded; a pool broken by a dead worker, or
    holding an engine call that was abandoned (a job past its deadline), is replaced."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.replaced = 0  # pools replaced so far (a dead or abandoned worker)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, initializer=worker.exit_with_parent)

    def start(self, settings: Settings) -> None:
        """Warm every worker (numba compile, library load) before the first song arrives. Not
        awaited: the bot answers buttons and commands meanwhile (after a restart, at once); the
        first jobs simply queue behind the warm-up in the pool."""
        self.pool = self._new_pool()
        for _ in range(self.workers):
            self.pool.submit(worker.warm_up, settings)

    def worker_pids(self) -> list[int]:
        pool = self.pool
        return [p.pid for p in (getattr(pool, "_processes", None) or {}).values()] if pool else []

    def _replace(self, pool: ProcessPoolExecutor, why: str, kill: bool = False) -> None:
        """Once per broken pool, however many calls saw it break."""
        if self.pool is not pool:
            return
        log.error("%s; starting a new engine pool", why)
        if kill:  # a hung call holds its worker for ever: end the pool's processes
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()
        self.replaced += 1

    async def run(self, fn, *args):
        pool = self.pool
        future = pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # a worker died (out of memory, a crash in native code): this call fails (its job is
            # tried again), later ones get a fresh pool instead of failing too
            self._replace(pool, "a worker process died")
            raise
        except asyncio.CancelledError:
            if future.running() and self.pool is not None:  # abandoned mid-call (a job past its deadline)
                self._replace(pool, f"an engine call ({fn.__name__}) was abandoned", kill=True)
            raise

    def shutdown(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class JobLoop:
    """Runners that claim jobs by priority and hand each to ``run`` within ``deadline`` seconds;
    a runner sleeps until ``wake`` or a second passes when nothing is queued. ``failed`` is
    told of a job that failed for good (its attempts are in the job), ``gone`` of a chat that
    is no longer reachable."""

    def __init__(self, jobs: JobRepo, sessions: SessionRepo, wake: asyncio.Event,
                 run: Callable[[Job], Awaitable[None]],
                 failed: Callable[[Job, Exception], Awaitable[None]], *, attempts: int, deadline: float) -> None:
        self.jobs = jobs
        self.sessions = sessions
        self.wake = wake
        self.run = run
        self.failed = failed
        self.attempts = attempts
        self.deadline = deadline
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
            except asyncio.CancelledError:
                raise
            except PASSING_FAILURES as exc:  # the database restarting, say: a line per try, no traceback
                log.warning("job runner: claiming a job failed, trying again: %r", exc)
                job = None
            except Exception:  # a runner must outlive any one error, or songs queue for ever
                log.exception("job runner: claiming a job failed")
                job = None
            if job is None:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                await self.run_one(job)
            except asyncio.CancelledError:
                raise  # shutting down: the job stays 'running' and is re-queued at the next start
            except Exception:  # bookkeeping failed too (the database is gone?): keep the runner
                log.exception("job runner: job %s bookkeeping failed", job.id)
                await asyncio.sleep(RETRY_PAUSE)

    async def run_one(self, job: Job) -> None:
        if job.attempts > self.attempts:  # it ended the process (or failed) every time so far
            await self._give_up(job, RuntimeError("the process ended during every attempt"), job.attempts - 1)
            return
        try:
            await asyncio.wait_for(self.run(job), timeout=self.deadline)
        except asyncio.CancelledError:
            raise
        except Forbidden as exc:  # the bot was removed from the chat or blocked: close quietly
            log.info("job %s: chat is gone (%s); closing its sessions", job.id, exc)
            await self._guarded(self.jobs.finish(job.id, JobStatus.DONE), job)
            session = await self.sessions.get(job.session_id)
            if session:
                await self._guarded(self.sessions.close_chat(session.chat_id, f"chat unavailable: {exc}"), job)
        except PASSING_FAILURES as exc:
            if job.attempts >= self.attempts:
                await self._give_up(job, exc)
                return
            log.warning("job %s (%s, attempt %d) met a passing failure, queued again: %r",
                        job.id, job.kind, job.attempts, exc)
            await self._guarded(self.jobs.retry(job.id), job)
            await asyncio.sleep(RETRY_PAUSE)
            self.wake.set()
        except Exception as exc:
            log.exception("job %s failed", job)
            await self._guarded(self.jobs.finish(job.id, JobStatus.FAILED), job)
            await self._guarded(self.failed(job, exc), job)
        else:
            await self._guarded(self.jobs.finish(job.id, JobStatus.DONE), job)

    async def _give_up(self, job: Job, exc: Exception, attempts: int | None = None) -> None:
        attempts = job.attempts if attempts is None else attempts
        log.error("job %s (%s) given up after %d attempt(s): %r", job.id, job.kind, attempts, exc)
        await self._guarded(self.jobs.finish(job.id, JobStatus.FAILED), job)
        await self._guarded(self.failed(job, JobGaveUp(attempts, exc)), job)

    @staticmethod
    async def _guarded(step: Awaitable[object], job: Job) -> None:
        """One bookkeeping step; its failure is logged, never the end of the runner."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: bookkeeping step failed", job.id)
