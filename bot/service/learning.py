"""Admins teaching the bot: /learn a dance video or link, /library, /forget a clip.

A video is learned in the background: the file is fetched from Telegram (or the link is
downloaded by yt-dlp, only because an admin asked), cut to its dancing and added to the library
by :func:`bot.admin.adding.add_sources` (engine work in a thread, never on the event loop), with
a progress message edited as it goes and the result at the end. Adding a clip moves the
library's version, so the workers load the new moves before the next song.
"""

from __future__ import annotations

import asyncio
import html
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, Message
from telegram.error import BadRequest

from ..admin import adding
from ..admin.library import open_library
from ..config import BotSettings
from ..texts import t

log = logging.getLogger(__name__)

# The progress message is edited at most this often (seconds).
PROGRESS_EVERY = 3.0


@dataclass
class LearnRequest:
    """What an admin asked to learn: a Telegram file or a link, and the style if given."""

    chat_id: int
    reply_to: int
    lang: str
    name: str
    style: str | None = None
    file_id: str | None = None
    url: str | None = None
    performer: str | None = None


class Learning:
    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task] = set()

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    async def learn(self, bot: Bot, request: LearnRequest) -> asyncio.Task:
        """Say that learning started and learn in the background (the task is returned for tests)."""
        sent = await bot.send_message(request.chat_id, t(request.lang, "learn_started", name=html.escape(request.name)),
                                      reply_to_message_id=request.reply_to)
        task = asyncio.create_task(self._learn(bot, request, sent), name=f"choreo-learn-{request.name[:20]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait for every learning under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _learn(self, bot: Bot, request: LearnRequest, progress_message: Message) -> None:
        lang, name = request.lang, html.escape(request.name)
        shown = {"at": 0.0, "percent": -1}
        pending: set[asyncio.Task] = set()

        def progress(fraction: float) -> None:  # called from the ingest thread
            percent = int(fraction * 100)
            now = time.monotonic()
            if now - shown["at"] < PROGRESS_EVERY or percent == shown["percent"]:
                return
            shown.update(at=now, percent=percent)
            loop.call_soon_threadsafe(lambda: pending.add(asyncio.ensure_future(
                self._edit(progress_message, t(lang, "learn_progress", name=name, percent=percent)))))

        loop = asyncio.get_running_loop()
        folder = self.settings.engine.media_dir / "learn" / uuid.uuid4().hex
        try:
            source = request.url or await self._fetch(bot, request, folder)
            results = await adding.add_sources([source], self.settings.engine, style=request.style,
                                               performer=request.performer, progress=progress)
            text = self._result_text(lang, name, results)
        except Exception as exc:  # noqa: BLE001 - the admin hears about any failure
            log.exception("learning %s failed", request.name)
            text = t(lang, "learn_refused", name=name, reason=html.escape(getattr(exc, "message", type(exc).__name__)))
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the library keeps its own copy
        await asyncio.gather(*pending, return_exceptions=True)
        await self._edit(progress_message, text)

    async def _fetch(self, bot: Bot, request: LearnRequest, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        file = await bot.get_file(request.file_id)
        path = folder / (Path(request.name).name if Path(request.name).suffix else f"{request.name}.mp4")
        await file.download_to_drive(path)
        return str(path)

    @staticmethod
    def _result_text(lang: str, name: str, results: list[adding.AddResult]) -> str:
        added = [r for r in results if r.status == "added"]
        if added:
            r = added[0] if len(added) == 1 else None
            segments, clips = sum(a.segments for a in added), sum(len(a.clip_ids) for a in added)
            kept = round(100 * sum(a.kept_share * a.duration for a in added) / max(1e-9, sum(a.duration for a in added)))
            posed = round(100 * sum(a.pose_share for a in added) / len(added))
            style = ""
            if r is not None and r.style:
                style = t(lang, "learn_style_guess" if r.style_guessed else "learn_style", style=html.escape(r.style))
            return t(lang, "learn_done", name=name, segments=segments, clips=clips, kept=kept, posed=posed, style=style)
        if results and all(r.status == "already there" for r in results):
            return t(lang, "learn_duplicate", name=name)
        reason = next((r.message for r in results if r.message), "")
        return t(lang, "learn_refused", name=name, reason=html.escape(reason))

    @staticmethod
    async def _edit(message: Message, text: str) -> None:
        try:
            await message.edit_text(text)
        except BadRequest as exc:  # "message is not modified" and the like: nothing to do
            log.debug("progress edit skipped: %s", exc)

    async def library_text(self, lang: str) -> str:
        db, repo = await open_library(self.settings.engine)
        try:
            stats = await repo.clips.stats()
        finally:
            await db.close()
        by_style = sorted(stats["segments_by_style"].items(), key=lambda kv: -kv[1])
        lines = "\n".join(f"• {html.escape(str(style))}: {n}" for style, n in by_style)
        return t(lang, "library_counts", clips=stats["clips"], segments=stats["segments"], styles=lines)

    async def forget(self, clip: str) -> str | None:
        db, repo = await open_library(self.settings.engine)
        try:
            return await repo.remove_clip(clip)
        finally:
            await db.close()
