"""The bot's own ``ChatRateLimiter`` under bursts, against the emulator enforcing Telegram's
documented limits (1 message/s per chat, 20/min per group, 30/s overall) as sliding windows
(issue 12, item 9). PTB's stock limiter, for contrast, trips them."""

from __future__ import annotations

import asyncio
import time

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, ExtBot

from bot.ratelimit import ChatRateLimiter
from bot.sandbox.emulator import TelegramEmulator


def _bot(emu: TelegramEmulator, limiter) -> ExtBot:
    return ExtBot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url, rate_limiter=limiter)


def _most_in_any_window(times: list[float], period: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + period) for t in times), default=0)


def _sent_times(emu: TelegramEmulator, chat_id: int | None = None) -> list[float]:
    return [r["time"] for r in emu.requests if r["status"] == 200 and r["method"].startswith(("send", "edit"))
            and (chat_id is None or str(r["params"].get("chat_id")) == str(chat_id))]


def test_a_burst_stays_within_the_documented_limits():
    with TelegramEmulator() as emu:
        ann = emu.make_user("Ann")
        private = emu.make_private_chat(ann)
        group = emu.make_group("Crew", [ann, emu.make_user("Bo")])
        crowd = [emu.make_private_chat(emu.make_user(f"U{i}")) for i in range(40)]

        async def burst():
            async with _bot(emu, ChatRateLimiter()) as bot:
                started = time.monotonic()
                chat_burst = asyncio.gather(*(bot.send_message(private["id"], f"p{i}") for i in range(4)),
                                            bot.edit_message_text("edited", private["id"], 1))
                crowd_burst = asyncio.gather(*(bot.send_message(c["id"], "hi") for c in crowd))
                group_sends = [asyncio.ensure_future(bot.send_message(group["id"], f"g{i}")) for i in range(21)]
                await asyncio.gather(chat_burst, crowd_burst)
                chat_seconds = time.monotonic() - started
                await asyncio.sleep(max(0.0, 4.0 - chat_seconds))
                held = sum(not s.done() for s in group_sends)  # the 21st waits for the minute to pass
                for s in group_sends:
                    s.cancel()
                await asyncio.gather(*group_sends, return_exceptions=True)
                return chat_seconds, held

        chat_seconds, held = asyncio.run(burst())
        assert emu.rate_limited == [] and emu.violations == []
        assert len(emu.bot_messages(private["id"])) == 4 and all(emu.bot_messages(c["id"]) for c in crowd)
        assert len(emu.bot_messages(group["id"])) == 20 and held == 1
        assert _most_in_any_window(_sent_times(emu, private["id"]), 1.0) == 1 and chat_seconds >= 4.0
        assert _most_in_any_window(_sent_times(emu), 1.0) <= 30


def test_ptbs_stock_limiter_trips_the_documented_limits():
    """AIORateLimiter's buckets let a group's 21st message through 3 s after a burst of 20, and
    leave private chats unlimited: Telegram's limits, read as documented, answer 429."""
    with TelegramEmulator() as emu:
        ann = emu.make_user("Ann")
        private = emu.make_private_chat(ann)
        group = emu.make_group("Crew", [ann, emu.make_user("Bo")])

        async def burst():
            async with _bot(emu, AIORateLimiter()) as bot:
                results = await asyncio.gather(*(bot.send_message(private["id"], f"p{i}") for i in range(3)),
                                               *(bot.send_message(group["id"], f"g{i}") for i in range(21)),
                                               return_exceptions=True)
                return [r for r in results if isinstance(r, RetryAfter)]

        limited = asyncio.run(burst())
        assert limited and {chat for _, chat in emu.rate_limited} == {private["id"], group["id"]}
