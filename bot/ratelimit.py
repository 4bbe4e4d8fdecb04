"""Rate limiting by Telegram's documented limits, for every chat.

The Bot API FAQ asks for no more than one message per second in a single chat, 20 messages per
minute in a group and about 30 messages per second in all. Each is kept here as a sliding window
("at most n in any period"), which is how they read, rather than as PTB's leaky buckets (those
allow a burst of 20 in a group and then one every 3 s, 21 in a minute). A message takes its place
in the window when its request is answered, not when it starts: Telegram counts it on arrival,
and an upload can take a while to arrive. PTB's ``AIORateLimiter`` is kept only for what it does
on a 429: wait as told and try again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from telegram.ext import AIORateLimiter

from . import stopwatch

PRIVATE_LIMIT = (1, 1.0)  # messages, seconds: one per second in a single chat
GROUP_LIMIT = (20, 60.0)  # 20 per minute in a group
OVERALL_LIMIT = (30, 1.0)  # 30 per second in all
IDLE_WINDOWS = 1024  # more chat windows than this: the idle ones are forgotten


class SlidingWindow:
    """At most ``limit`` requests answered in any ``period`` seconds, counting those under way."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.answered: deque[float] = deque()  # monotonic times of the answers still in the window
        self.under_way = 0

    def _forget_old(self, now: float) -> None:
        while self.answered and self.answered[0] <= now - self.period:
            self.answered.popleft()

    def idle(self) -> bool:
        self._forget_old(time.monotonic())
        return not self.answered and not self.under_way

    async def __aenter__(self) -> None:
        while True:
            now = time.monotonic()
            self._forget_old(now)
            if len(self.answered) + self.under_way < self.limit:
                self.under_way += 1
                return
            # the oldest answer leaves the window then; a request under way frees nothing before it ends
            await asyncio.sleep(self.answered[0] + self.period - now if self.answered else 0.05)

    async def __aexit__(self, *exc: object) -> None:
        self.under_way -= 1
        self.answered.append(time.monotonic())


def counted(endpoint: str) -> bool:
    """What Telegram's limits count: messages sent, copied, forwarded, and edits."""
    return endpoint.startswith(("send", "editMessage", "copyMessage", "forwardMessage")) \
        and endpoint != "sendChatAction"


class ChatRateLimiter(AIORateLimiter):
    def __init__(self, max_retries: int = 3, *, private: tuple[int, float] = PRIVATE_LIMIT,
                 group: tuple[int, float] = GROUP_LIMIT, overall: tuple[int, float] = OVERALL_LIMIT) -> None:
        # PTB's own buckets off (0): the windows below limit; a 429 is still waited out and retried
        super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        self._limits = {"private": private, "group": group}
        self._overall = SlidingWindow(*overall)
        self._chats: dict[int, SlidingWindow] = {}

    def _chat_window(self, chat_id: int) -> SlidingWindow:
        if len(self._chats) > IDLE_WINDOWS:
            for key, window in list(self._chats.items()):
                if window.idle():
                    del self._chats[key]
        window = self._chats.get(chat_id)
        if window is None:
            window = self._chats[chat_id] = SlidingWindow(*self._limits["private" if chat_id > 0 else "group"])
        return window

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        try:
            chat_id = int(data.get("chat_id"))
        except (TypeError, ValueError):
            chat_id = None
        if not counted(endpoint):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        if chat_id is None:  # an inline message's edit: only the overall limit applies
            async with self._overall:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        t0 = time.perf_counter()
        async with self._chat_window(chat_id), self._overall:
            stopwatch.add(chat_id, stopwatch.RATE_LIMITER_WAIT, time.perf_counter() - t0)  # for `bench bot`
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
