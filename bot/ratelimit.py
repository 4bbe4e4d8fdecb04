"""Rate limiting that also covers private chats.

PTB's ``AIORateLimiter`` limits the whole bot (30 messages/s) and each group (20/min), but not a
private chat, where Telegram asks for about one message per second with short bursts. A burst
of friendly replies (or progress edits and previews for one user) must not earn a 429.
"""

from __future__ import annotations

import time
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

from . import stopwatch

PRIVATE_BURST = 5  # messages
PRIVATE_PERIOD = 5.0  # seconds: a burst of 5, then one per second


class ChatRateLimiter(AIORateLimiter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._private: dict[int, AsyncLimiter] = {}

    def _private_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._private) > 1024:  # forget idle chats
            for key, limiter in list(self._private.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._private[key]
        return self._private.setdefault(chat_id, AsyncLimiter(PRIVATE_BURST, PRIVATE_PERIOD))

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        chat_id = data.get("chat_id")
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            chat_id = None
        counted = endpoint.startswith(("send", "editMessage", "copyMessage", "forwardMessage")) \
            and endpoint != "sendChatAction"
        if chat_id is not None and chat_id > 0 and counted:
            t0 = time.perf_counter()
            async with self._private_limiter(chat_id):
                stopwatch.add(chat_id, stopwatch.RATE_LIMITER_WAIT, time.perf_counter() - t0)
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
