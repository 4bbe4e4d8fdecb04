"""Running the real bot against the Bot API emulator, for the bot tests."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

from bot.app import polling
from bot.config import BotSettings
from bot.sandbox.emulator import TelegramEmulator
from tests.support.data import settings_for, ffmpeg, shared


def bot_settings(emu: TelegramEmulator, data_dir: Path, **overrides) -> BotSettings:
    base = BotSettings(token=emu.token, api_base_url=emu.base_url, api_file_url=emu.base_file_url, workers=2,
                       max_file_mb=20, vote_timeout_seconds=120, engine=settings_for(data_dir))
    return dataclasses.replace(base, **overrides)


def copy_library(library_dir: Path, dest: Path) -> Path:
    """A private copy of the test library (the bot writes its sessions beside it)."""
    shutil.copytree(library_dir, dest, ignore=shutil.ignore_patterns("sessions", "index"))
    return dest


@contextlib.asynccontextmanager
async def running_bot(settings: BotSettings) -> AsyncIterator:
    """The application started as `choreo bot` would, with long polling against the emulator."""
    async with polling(settings, poll_timeout=1) as app:
        yield app
    errors = app.bot_data.get("errors", [])
    assert not errors, f"handler errors: {errors!r}"


def song_excerpt(tmp: Path, track: tuple[str, ...], seconds: float, ext: str = "mp3", start: float = 0.0) -> Path:
    out = tmp / f"{Path(track[-1]).stem[:20]}-{int(start)}-{int(seconds)}.{ext}"
    codec = {"mp3": ["-c:a", "libmp3lame"], "ogg": ["-c:a", "libopus", "-b:a", "48k"], "m4a": ["-c:a", "aac"],
             "wav": []}[ext]
    ffmpeg("-ss", str(start), "-t", str(seconds), "-i", str(shared(*track)), *codec, str(out))
    return out


async def wait(emu: TelegramEmulator, predicate, timeout: float = 120.0, explain=None):
    """Wait for ``predicate``; on a timeout, ``explain(emu)`` is added to the error."""
    try:
        return await emu.wait_for_async(predicate, timeout=timeout)
    except TimeoutError as exc:
        if explain is None:
            raise
        raise TimeoutError(f"{exc}\n{explain(emu)!r}") from None


# a part's caption: "Part 5 of 41 ..." or "파트 5/41 ...", after its section's name when known
# ("Chorus · Part 5 of 41"; collapsed to "Part 5 of 41: move 2 ✓" once chosen)
PART_CAPTION = re.compile(r"^(?:[^\n·]+ · )?(?:Part|파트) (\d+)")


def is_part_preview(message: dict) -> bool:
    return message["kind"] == "video" and bool(PART_CAPTION.match(message.get("caption") or ""))


def part_number(message: dict) -> int:
    """The part (1-based) a preview's caption names."""
    return int(PART_CAPTION.match(message["caption"]).group(1))


def previews(emu: TelegramEmulator, chat_id: int) -> list[dict]:
    """The bot's preview videos (messages with pick buttons or a collapsed 'Part' caption)."""
    return [m for m in emu.bot_messages(chat_id) if is_part_preview(m)]


def buttons_of(message: dict) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data")) for row in markup.get("inline_keyboard", []) for b in row]


def button(message: dict, label: str) -> str:
    for text, data in buttons_of(message):
        if text == label or text.startswith(label):
            return data
    raise AssertionError(f"no button {label!r} in {buttons_of(message)}")



async def auto_picked_dance(emu: TelegramEmulator, user: dict, song: Path,
                            before_tap: Callable[[dict], Awaitable[None]] | None = None) -> tuple[dict, dict]:
    """``user`` sends ``song`` in a private chat and auto-picks at the first preview (after
    ``before_tap(preview message)``, if given), until the sheet that follows the dance:
    (chat, final video message)."""
    chat = emu.make_private_chat(user)
    emu.send_file(chat, user, song, kind="audio", mime_type="audio/mpeg")
    await wait(emu, lambda e: previews(e, chat["id"]), 120)
    offer = previews(emu, chat["id"])[0]
    if before_tap is not None:
        await before_tap(offer)
    emu.press_button(chat, user, offer["message_id"], button(offer, "✨"))
    await wait(emu, lambda e: any(m["kind"] == "photo" for m in e.bot_messages(chat["id"])), 180)
    final = [m for m in emu.bot_messages(chat["id"]) if m["kind"] == "video"][-1]
    return chat, final
