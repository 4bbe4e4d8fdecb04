"""Flood limits: Telegram-like leaky buckets per chat and for the whole bot.

The same algorithm as ``aiolimiter`` under PTB's ``AIORateLimiter``, so a bot that uses that
limiter with the same numbers never trips them. What counts is in :func:`counts_for_flood`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class FloodLimits:
    """Telegram-like flood limits; each is ``(burst, period_seconds)`` or ``None`` (off).

    ``(n, p)`` is a leaky bucket of capacity ``n`` draining ``n / p`` per second, the
    same model as ``aiolimiter.AsyncLimiter(n, p)`` inside PTB's ``AIORateLimiter``.
    """

    private: tuple[int, float] | None = (5, 5.0)  # per private chat: 1/s, burst 5
    group: tuple[int, float] | None = (20, 60.0)  # per group/channel (id < 0): 20/min
    overall: tuple[int, float] | None = (30, 1.0)  # whole bot: 30/s
    count_edits: bool = True  # editMessage* share the per-chat and overall budgets
    grace: float = 0.25  # seconds of client/server timing jitter we forgive (busy CI)

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(private=None, group=None, overall=None)


class LeakyBucket:
    """``capacity`` messages at most, draining ``capacity / period`` per second."""

    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.level = 0.0
        self.stamp = time.monotonic()

    def wait_needed(self, now: float, grace: float) -> float:
        """Seconds until one more message fits (0 = fits now)."""
        self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
        self.stamp = now
        excess = self.level + 1 - self.capacity - grace * self.rate
        return max(0.0, excess / self.rate)


def counts_for_flood(method: str, edits: bool) -> bool:
    """Every ``send*`` but sendChatAction, copies and forwards, and edits when ``edits``."""
    if method.startswith("send") and method != "sendChatAction":
        return True
    if method in ("copyMessage", "forwardMessage", "copyMessages", "forwardMessages"):
        return True
    return edits and method.startswith("editMessage")


class FloodBuckets:
    """The emulator's buckets, one per chat and one overall, made (again) as the limits say."""

    def __init__(self) -> None:
        self._buckets: dict[Any, LeakyBucket] = {}

    def take(self, limits: FloodLimits, method: str, chat_id: int, private: bool, paid_broadcast: bool) -> int:
        """Count one ``method`` call in the chat's and the overall bucket.

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
        buckets = []
        wait = 0.0
        for key, (burst, period) in keys:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.capacity != burst or bucket.rate != burst / period:
                bucket = self._buckets[key] = LeakyBucket(burst, period)
            wait = max(wait, bucket.wait_needed(now, limits.grace))
            buckets.append(bucket)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.level += 1
        return 0
