"""Flood limits: Telegram's documented limits, as sliding windows per chat and for the whole bot.

The numbers are the Bot API FAQ's ("My bot is hitting limits, how do I avoid this?"): in a single
chat no more than one message per second; in a group no more than 20 messages per minute; in
all no more than about 30 messages per second. Each is read literally, as "at most ``n`` in any
``period`` seconds", a model of its own (not the leaky buckets of a client's limiter), so a bot is
tested against what Telegram promises rather than against its own assumptions. What counts is
in :func:`counts_for_flood`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass
class FloodLimits:
    """Telegram's flood limits; each is ``(n, period_seconds)``: at most ``n`` messages in any
    window of ``period`` seconds, or ``None`` (off)."""

    private: tuple[int, float] | None = (1, 1.0)  # per private chat: one message per second
    group: tuple[int, float] | None = (20, 60.0)  # per group/channel (id < 0): 20 per minute
    overall: tuple[int, float] | None = (30, 1.0)  # whole bot: 30 per second
    count_edits: bool = True  # editMessage* share the per-chat and overall budgets
    grace: float = 0.25  # seconds of client/server timing jitter we forgive (busy CI)

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(private=None, group=None, overall=None)


class SlidingWindow:
    """The times of the messages accepted in the last ``period`` seconds, at most ``limit``."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.times: deque[float] = deque()

    def wait_needed(self, now: float, grace: float) -> float:
        """Seconds until one more message fits (0 = fits now). A message within ``grace`` of
        leaving the window counts as gone (the client's clock ran a little ahead of ours)."""
        while self.times and self.times[0] <= now - self.period + grace:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.period - grace - now


def counts_for_flood(method: str, edits: bool) -> bool:
    """Every ``send*`` but sendChatAction, copies and forwards, and edits when ``edits``."""
    if method.startswith("send") and method != "sendChatAction":
        return True
    if method in ("copyMessage", "forwardMessage", "copyMessages", "forwardMessages"):
        return True
    return edits and method.startswith("editMessage")


class FloodBuckets:
    """The emulator's windows, one per chat and one overall, made (again) as the limits say."""

    def __init__(self) -> None:
        self._windows: dict[Any, SlidingWindow] = {}

    def take(self, limits: FloodLimits, method: str, chat_id: int, private: bool, paid_broadcast: bool) -> int:
        """Count one ``method`` call in the chat's and the overall window.

        Returns 0, or the seconds to retry after (then nothing is counted: a rejected
        request consumes nothing).
        """
        if not counts_for_flood(method, limits.count_edits):
            return 0
        keys: list[tuple[Any, tuple[int, float]]] = []
        per_chat = limits.private if private else limits.group
        if per_chat:
            keys.append((("chat", chat_id), per_chat))
        if limits.overall and not paid_broadcast:
            keys.append((("overall",), limits.overall))
        now = time.monotonic()
        windows = []
        wait = 0.0
        for key, (limit, period) in keys:
            window = self._windows.get(key)
            if window is None or window.limit != limit or window.period != period:
                window = self._windows[key] = SlidingWindow(limit, period)
            wait = max(wait, window.wait_needed(now, limits.grace))
            windows.append(window)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.times.append(now)
        return 0
