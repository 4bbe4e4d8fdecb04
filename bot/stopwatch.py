"""Where a chat's songs spend their time (download, decode, beats, ..., upload, waits on the
rate limiter), kept in memory per chat for ``choreo bench bot``; nothing reads it in production."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from typing import Iterator

MAX_CHATS = 256  # the oldest chat's figures go first
RATE_LIMITER_WAIT = "rate_limiter_wait"

_by_chat: "OrderedDict[int, dict[str, float]]" = OrderedDict()


def add(chat_id: int, step: str, seconds: float) -> None:
    steps = _by_chat.setdefault(chat_id, {})
    _by_chat.move_to_end(chat_id)
    steps[step] = steps.get(step, 0.0) + float(seconds)
    while len(_by_chat) > MAX_CHATS:
        _by_chat.popitem(last=False)


def add_all(chat_id: int, timings: dict[str, float] | None) -> None:
    for step, seconds in (timings or {}).items():
        add(chat_id, step, seconds)


@contextlib.contextmanager
def timed(chat_id: int, step: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        add(chat_id, step, time.perf_counter() - t0)


@contextlib.contextmanager
def uploading(chat_id: int, step: str = "upload") -> Iterator[None]:
    """Time a send, less what it waited on the rate limiter (counted as that)."""
    waited = _by_chat.get(chat_id, {}).get(RATE_LIMITER_WAIT, 0.0)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        extra = _by_chat.get(chat_id, {}).get(RATE_LIMITER_WAIT, 0.0) - waited
        add(chat_id, step, max(0.0, time.perf_counter() - t0 - extra))


def peek(chat_id: int) -> dict[str, float]:
    return dict(_by_chat.get(chat_id, {}))


def take(chat_id: int) -> dict[str, float]:
    """The chat's figures so far, forgotten here."""
    return _by_chat.pop(chat_id, {})
