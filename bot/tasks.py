"""Engine work as Celery tasks over Redis, for running past one machine (``CHOREO_BROKER_URL``).

One task, ``choreo.engine``, runs one of :mod:`bot.worker`'s entry points by name; what a job does
stays in the stages and ``bot.worker`` (one code path), only the dispatch differs from the
in-process :class:`bot.service.jobs.EnginePool`. :class:`CeleryEnginePool` has that pool's
interface (start / run / shutdown / worker_pids), so the service picks one or the other by
``broker_url`` alone. ``choreo worker`` consumes the tasks (:func:`run_worker`).

Delivery: tasks are acknowledged late and rejected back to the queue when their worker process
dies (``acks_late``, ``reject_on_worker_lost``); a task whose whole worker was SIGKILLed stays
unacknowledged in Redis and is handed to another worker once ``visibility_timeout`` has passed,
which is kept longer than the task's time limit so a task still running is never handed out twice.
Each worker reserves one task at a time (``worker_prefetch_multiplier=1``). A re-delivered task
writes the same files (their paths are named by the caller; the engine writes through a temporary
name and renames) and returns to the same task id, so the bot, which records every send, sends
nothing twice.

Priorities: one queue with Redis priority steps (kombu polls the step lists in order, 0 first):
a tap's next preview, the auto path and renders (:data:`URGENT`) before new songs' analyses
(:data:`BULK`).

Serialization is pickle, both ways: the arguments hold engine ``Settings`` dataclasses and numpy
arrays, and the engine's errors must come back as themselves for the bot to word them. That is
safe only between our own processes: the broker must not be reachable by anyone else (anyone who
can write to it can run code in the workers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any, Callable

from celery import Celery
from celery.signals import worker_process_init
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError

from choreo_engine.settings import Settings
from storage.db import PassingDatabaseError

from . import worker
from .config import BotSettings

log = logging.getLogger(__name__)

TASK_NAME = "choreo.engine"
QUEUE = "choreo"
URGENT, BULK = 0, 6  # Redis priority steps: 0 is served first
PRIORITY_STEPS = [0, 3, 6, 9]
# the bot looks for a task's result after 5 ms, then twice as long each time up to 0.1 s: a short
# job (the auto path) is not held back by the polling, a render costs the broker 10 looks a second
FIRST_POLL_SECONDS, RESULT_POLL_SECONDS = 0.005, 0.1
# failures of the surroundings, not of the job: tried again with back-off (at most RETRIES times)
TRANSIENT = (PassingDatabaseError, ConnectionError, RedisConnectionError)
RETRIES = 3

# bot.worker's entry points a task may run, by name, with their priority
ENTRY_POINTS: dict[str, tuple[Callable[..., Any], int]] = {
    fn.__name__: (fn, priority) for fn, priority in (
        (worker.analyse, BULK), (worker.first_offer, BULK), (worker.describe, BULK),
        (worker.offer, URGENT), (worker.change_offer, URGENT), (worker.auto_rest, URGENT),
        (worker.render_result, URGENT), (worker.render_pieces, URGENT), (worker.final_sound, URGENT),
        (worker.practice_video, URGENT),
        (worker.export_poses, URGENT), (worker.render_sheet, URGENT),
        (worker.warm_up, URGENT),
    )
}


class BrokerUnreachable(ConnectionError):
    """The broker did not take the task: a passing failure (the job is queued again)."""


def visibility_timeout(settings: BotSettings) -> float:
    """Seconds before an unacknowledged task (its worker gone) goes to another worker: the
    setting, or the task time limit and five minutes; never within the time limit."""
    limit = settings.task_time_limit_seconds
    chosen = settings.broker_visibility_timeout_seconds or limit + 300
    return max(chosen, limit + 1)


def celery_app(settings: BotSettings) -> Celery:
    """The Celery app for ``settings.broker_url`` (results kept in the same Redis)."""
    app = Celery("choreo", broker=settings.broker_url, backend=settings.broker_url, set_as_current=False)
    timeout = visibility_timeout(settings)
    restore_every = max(1, min(10, int(timeout // 6)))  # a dead worker's task waits ≤ timeout + this
    transport = {"visibility_timeout": timeout, "priority_steps": PRIORITY_STEPS, "queue_order_strategy": "priority",
                 "unacked_restore_interval": restore_every, "unacked_restore_throttle": 1}
    app.conf.update(
        task_serializer="pickle", result_serializer="pickle", accept_content=["pickle"],
        result_accept_content=["pickle"], task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, task_time_limit=settings.task_time_limit_seconds,
        task_default_queue=QUEUE, task_default_priority=BULK, broker_transport_options=transport,
        result_backend_transport_options=transport, result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        worker_proc_alive_timeout=180,  # a fresh pool process warms up (numba cache lock, library, index) first
    )
    app.task(name=TASK_NAME, bind=True, autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=60,
             retry_jitter=True, max_retries=RETRIES)(_run_entry_point)
    return app


def _run_entry_point(task, name: str, args: tuple) -> Any:
    """Worker side: one ``bot.worker`` function (only those in :data:`ENTRY_POINTS`)."""
    if name not in ENTRY_POINTS:
        raise ValueError(f"not an engine entry point: {name!r}")
    return ENTRY_POINTS[name][0](*(on_this_machine(a) if isinstance(a, Settings) else a for a in args))


def on_this_machine(sent: Settings) -> Settings:
    """The bot's engine settings with this worker's own data dir (``CHOREO_DATA_DIR``) for what it
    may cache (the fitted music index); the media root and the database stay the bot's."""
    return dataclasses.replace(sent, data_dir=Settings.from_env().data_dir, media_root=sent.media_dir,
                               database_url=str(sent.database))


class CeleryEnginePool:
    """The bot's side: :class:`bot.service.jobs.EnginePool`'s interface over Celery tasks."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.app = celery_app(settings)
        self.replaced = 0  # the in-process pool's count of replaced pools; workers here replace themselves

    def start(self, engine_settings) -> None:
        """The workers warm themselves up (``choreo worker``); nothing to start on the bot's side."""

    def send(self, fn: Callable[..., Any], *args: Any):
        """Queue ``fn(*args)`` at its priority; its Celery ``AsyncResult``."""
        name = fn.__name__
        try:
            return self.app.send_task(TASK_NAME, args=(name, args), priority=ENTRY_POINTS[name][1], queue=QUEUE)
        except (BrokerError, RedisConnectionError) as exc:
            raise BrokerUnreachable(f"the broker did not take {name}: {exc}") from exc

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = await asyncio.to_thread(self.send, fn, *args)
        pause = FIRST_POLL_SECONDS
        try:
            while True:
                try:
                    state = await asyncio.to_thread(lambda: result.state)
                except RedisConnectionError as exc:
                    raise BrokerUnreachable(f"the result of {fn.__name__} is out of reach: {exc}") from exc
                if state == "SUCCESS":
                    value = result.result
                    break
                if state == "FAILURE":
                    error = result.result
                    raise error if isinstance(error, BaseException) else RuntimeError(repr(error))
                await asyncio.sleep(pause)
                pause = min(RESULT_POLL_SECONDS, pause * 2)
        except asyncio.CancelledError:
            # abandoned (the job's deadline, or the bot stopping): a task not yet started is
            # dropped; one running finishes on its worker and its result simply expires
            await asyncio.shield(asyncio.to_thread(result.revoke))
            raise
        await asyncio.to_thread(result.forget)
        return value

    def worker_pids(self) -> list[int]:
        """The pool processes of every worker that answers within a second."""
        stats = self.app.control.inspect(timeout=1.0).stats() or {}
        return [pid for s in stats.values() for pid in s.get("pool", {}).get("processes", [])]

    def shutdown(self) -> None:
        self.app.close()


def _warm_pool_process(**_: Any) -> None:
    """Each pool process compiles numba's code and loads the library itself, after the fork: a
    parent that had run OpenMP code (KMeans fitting the music index) leaves its forked children
    hanging the next time they fit one (seen here: a task stuck until its time limit)."""
    log.info("choreo worker process %d: %d library segments loaded", os.getpid(), worker.warm_up(Settings.from_env()))


def run_worker(settings: BotSettings, concurrency: int, name: str | None = None, loglevel: str = "INFO") -> None:
    """``choreo worker``: consume engine tasks until stopped; each pool process warms up first."""
    if not settings.broker_url:
        raise SystemExit("choreo worker: set CHOREO_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    worker_process_init.connect(_warm_pool_process, weak=False)
    app = celery_app(settings)
    argv = ["worker", f"--concurrency={concurrency}", f"--queues={QUEUE}", f"--loglevel={loglevel}",
            "--pool=prefork", "--without-gossip", "--without-mingle"]
    argv.append(f"--hostname={name or 'choreo'}-{os.getpid()}@%h")
    app.worker_main(argv)


def __getattr__(name: str) -> Any:
    """``bot.tasks:app``, the app from the environment, for Celery's own tools (``celery -A
    bot.tasks:app inspect active``, Flower); built on first use so importing this module needs
    no broker setting."""
    if name == "app":
        return celery_app(BotSettings.from_env())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
