"""Sending to the chat: the session's one progress message (throttled), failure reports, and
videos sent by their cached file id when they were uploaded before."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup, InputMediaVideo, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from choreo_engine.errors import ChoreoError
from storage.files import FileCacheRepo
from storage.rows import Session

from .. import stopwatch
from ..config import BotSettings
from ..texts import TEXTS, t
from .jobs import JobGaveUp
from .retention import MediaGoneError

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL = 3.0  # seconds between edits of one progress message
LATER = "progress-later-"  # the name of progress_later's tasks


def whose(session: Session) -> str:
    """In a group every message says whose song it is."""
    if session.private:
        return ""
    return t(session.language, "owner_suffix", owner=html.escape(session.owner_name))


def section_name(lang: str, analysis: dict, idx: int) -> str | None:
    """The name of part ``idx``'s section ("Chorus"); None for analyses stored before sections."""
    for section in analysis.get("sections", []):
        if section["first_segment"] <= idx < section["end_segment"]:
            key = f"section.{section['label']}"
            return t(lang, key) if key in TEXTS["en"] else None
    return None


def section_prefix(lang: str, analysis: dict, idx: int) -> str:
    """"Chorus · " for a part in a chorus; nothing for analyses stored before sections."""
    name = section_name(lang, analysis, idx)
    return t(lang, "offer_section", section=name) if name else ""


def fmt_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


class Messages:
    def __init__(self, bot: Bot, settings: BotSettings, files: FileCacheRepo) -> None:
        self.bot = bot
        self.settings = settings
        self.files = files
        # (chat id, progress message id) -> monotonic time of the last edit (message ids are per chat)
        self._last_edit: dict[tuple[int, int], float] = {}
        self._edits: set[asyncio.Task] = set()  # progress_later's, kept until done

    def progress_sent(self, chat_id: int, message_id: int) -> None:
        """A progress message was just sent: its first edit waits its turn."""
        self._last_edit[(chat_id, message_id)] = time.monotonic()

    async def progress(self, session: Session, key: str, force: bool = False, **values) -> None:
        """Edit the session's one progress message, at most every PROGRESS_MIN_INTERVAL seconds.

        An intermediate stage that comes too soon is skipped; a ``force`` edit (the last one)
        waits for its turn instead.
        """
        message_id = session.progress_message_id
        if not message_id:
            return
        edited = (session.chat_id, message_id)
        wait = PROGRESS_MIN_INTERVAL - (time.monotonic() - self._last_edit.get(edited, 0.0))
        if wait > 0:
            if not force:
                return
            if not asyncio.current_task().get_name().startswith(LATER):  # a wait that holds nothing up is none
                stopwatch.add(session.chat_id, "progress_edit_wait", wait)
            await asyncio.sleep(wait)
        text = t(session.language, key, song=html.escape(session.song_name), **values) + whose(session)
        self._last_edit[edited] = time.monotonic()
        try:
            await self.bot.edit_message_text(text, session.chat_id, message_id, parse_mode="HTML")
        except Forbidden:
            raise  # the chat is gone: the job runner closes its sessions
        except TelegramError as exc:  # "not modified", a network hiccup: a progress line is not worth a song
            log.debug("progress edit skipped: %s", exc)

    def progress_later(self, session: Session, key: str, **values) -> None:
        """A forced :meth:`progress` edit that waits for its turn without holding up the caller."""
        async def edit() -> None:
            try:
                await self.progress(session, key, force=True, **values)
            except Forbidden:  # the chat is gone; the next job for it closes the session
                log.info("progress edit: chat %s is gone", session.chat_id)

        task = asyncio.get_running_loop().create_task(edit(), name=f"{LATER}{session.id}")
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)

    async def report_failure(self, session: Session, exc: Exception) -> None:
        """Tell the chat the song failed: an engine error in the user's words, anything else in general."""
        lang = session.language
        if isinstance(exc, JobGaveUp):
            text = t(lang, "gave_up", attempts=exc.attempts, song=html.escape(session.song_name))
        elif isinstance(exc, ChoreoError):
            key = f"error.{exc.code}"
            text = t(lang, key, max_minutes=self.settings.max_song_seconds / 60) if key in TEXTS["en"] else exc.message
        else:
            text = t(lang, "failed", song=html.escape(session.song_name))
        try:
            if session.progress_message_id:
                await self.bot.edit_message_text(text, session.chat_id, session.progress_message_id, parse_mode="HTML")
            else:
                await self.bot.send_message(session.chat_id, text, parse_mode="HTML")
        except Forbidden:
            log.info("chat %s is gone; session %s closed", session.chat_id, session.id)
        except TelegramError as err:
            log.warning("could not report failure: %s", err)

    async def send_cached_video(self, chat_id: int, path: str, sha256: str, caption: str,
                                markup: InlineKeyboardMarkup | None, duration: float | None = None) -> Message:
        """Send a video by its cached file_id when it was uploaded before; upload otherwise, and
        also when Telegram no longer accepts the cached id (it is forgotten then).

        Raises MediaGoneError when neither is possible any more (retention removed the file and
        Telegram no longer knows the file id, or it was never uploaded)."""
        file_id = await self.files.file_id(sha256)
        if file_id:
            try:
                return await self.bot.send_video(chat_id, file_id, caption=caption, reply_markup=markup,
                                                 parse_mode="HTML")
            except BadRequest as exc:
                log.warning("cached file id of %s rejected (%s): uploading again", sha256[:12], exc)
                await self.files.forget(sha256)
                if not Path(path).exists():
                    raise MediaGoneError(str(exc)) from exc
        elif not Path(path).exists():
            raise MediaGoneError(f"{path} is gone and was never uploaded")
        with open(path, "rb") as fh:
            sent = await self.bot.send_video(chat_id, fh, caption=caption, reply_markup=markup, parse_mode="HTML",
                                             supports_streaming=True, duration=round(duration) if duration else None,
                                             filename="choreo-dance.mp4")
        if sent.video:
            await self.files.remember(sha256, sent.video.file_id, "video")
        return sent

    async def put_video(self, chat_id: int, message_id: int, path: str, sha256: str, caption: str,
                        markup: InlineKeyboardMarkup | None, duration: float | None = None) -> None:
        """Turn the (media) message ``message_id`` into the video, by its cached file_id when it was
        uploaded before. Doing it again changes nothing: "not modified" is success here."""
        file_id = await self.files.file_id(sha256)
        if file_id:
            try:
                await self.bot.edit_message_media(InputMediaVideo(file_id, caption=caption, parse_mode="HTML"),
                                                  chat_id=chat_id, message_id=message_id, reply_markup=markup)
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return
                log.warning("cached file id of %s rejected (%s): uploading again", sha256[:12], exc)
                await self.files.forget(sha256)
        with open(path, "rb") as fh:
            media = InputMediaVideo(fh, caption=caption, parse_mode="HTML", supports_streaming=True,
                                    duration=round(duration) if duration else None, filename="choreo-dance.mp4")
            edited = await self.bot.edit_message_media(media, chat_id=chat_id, message_id=message_id,
                                                       reply_markup=markup)
        if isinstance(edited, Message) and edited.video:
            await self.files.remember(sha256, edited.video.file_id, "video")
