"""Priorities over Redis (bot.tasks): a tap's next preview and a render are handed to a worker
before new songs' analyses queued earlier, through kombu's real Redis transport and our
configuration (priority steps in one queue), with no worker running: the test takes the messages
itself, one at a time, as a worker with ``prefetch_multiplier=1`` does."""

from __future__ import annotations

import dataclasses

from kombu import Queue

from bot import worker
from bot.config import BotSettings
from bot.tasks import ENTRY_POINTS, QUEUE, CeleryEnginePool
from tests.support.redis_server import redis_server  # noqa: F401 - the session fixture


def _delivery_order(pool: CeleryEnginePool, n: int) -> list[str]:
    """The entry point of each of the next ``n`` messages, in the order Redis hands them out."""
    order: list[str] = []

    def take(body, message) -> None:
        args, _kwargs, _embed = body
        order.append(args[0])
        message.ack()

    with pool.app.connection_for_read() as conn:
        with conn.Consumer(Queue(QUEUE), callbacks=[take], accept=["pickle"]) as consumer:
            consumer.qos(prefetch_count=1)
            while len(order) < n:
                conn.drain_events(timeout=5)
    return order


def test_taps_and_renders_before_new_songs(redis_server):  # noqa: F811 - the fixture above
    pool = CeleryEnginePool(dataclasses.replace(BotSettings.from_env(), broker_url=redis_server.url(2)))
    try:
        with pool.app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()  # nothing left from another test on this Redis database
        for i in range(3):  # three new songs wait for analysis
            pool.send(worker.analyse, f"song-{i}.mp3", None)
        pool.send(worker.render_result, {}, [], "song-0.mp3", "out", "clips", None)  # a dance to render
        pool.send(worker.offer, {}, None, 1, [], "song-1.mp3", "preview.mp4", None)  # a tap's next preview
        pool.send(worker.first_offer, "song-2.mp3", "preview-001.mp4", None)  # with a new song: after taps
        assert _delivery_order(pool, 6) == ["render_result", "offer", "analyse", "analyse", "analyse", "first_offer"]
    finally:
        pool.shutdown()


def test_every_engine_call_of_the_bot_is_a_task():
    """Each bot.worker function the bot hands to its engine can run as a Celery task (a call
    missing from ENTRY_POINTS would fail only on the Celery engine)."""
    import re
    from pathlib import Path

    bot_dir = Path(__file__).resolve().parents[2] / "bot"
    used = {name for path in bot_dir.rglob("*.py")
            for name in re.findall(r"engine\.run\(\s*worker\.(\w+)", path.read_text())}
    assert {"analyse", "describe", "auto_rest", "render_pieces", "final_sound"} <= used  # the pattern finds them
    assert used - set(ENTRY_POINTS) == set()
