"""python-telegram-bot callbacks: read the update, check it, hand over to the service."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from .service import ChoreoService
from .texts import language_of, t

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = {".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".wma", ".amr"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".3gp"}


def service_of(context: ContextTypes.DEFAULT_TYPE) -> ChoreoService:
    return context.application.bot_data["service"]


def lang_of(update: Update) -> str:
    user = update.effective_user
    return language_of(user.language_code if user else None)


def display_name(user) -> str:
    return f"@{user.username}" if user.username else user.first_name


def song_media(message: Message) -> tuple[object, str, float | None] | None:
    """(media object, song name, duration) when the message carries sound we can use."""
    if message.audio:
        a = message.audio
        name = " – ".join(p for p in (a.performer, a.title) if p) or a.file_name or "audio"
        return a, name, a.duration.total_seconds() if hasattr(a.duration, "total_seconds") else a.duration
    for kind, label in (("voice", "voice note"), ("video", "video"), ("video_note", "video note")):
        media = getattr(message, kind)
        if media:
            name = getattr(media, "file_name", None) or label
            d = media.duration
            return media, name, d.total_seconds() if hasattr(d, "total_seconds") else d
    doc = message.document
    if doc:
        mime = (doc.mime_type or "").lower()
        ext = Path(doc.file_name or "").suffix.lower()
        if mime.startswith(("audio/", "video/")) or ext in AUDIO_EXTENSIONS | VIDEO_EXTENSIONS:
            return doc, doc.file_name or "file", None
    return None


async def start_or_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = service_of(context)
    lang = lang_of(update)
    text = t(lang, "help", max_mb=service.settings.max_file_mb,
             max_minutes=round(service.settings.max_song_seconds / 60))
    if update.effective_chat.type != ChatType.PRIVATE:
        text += t(lang, "help_group")
    await update.effective_message.reply_text(text, parse_mode="HTML")


async def song(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A message with sound in it (private chat): check it before any download, then queue it."""
    message = update.effective_message
    found = song_media(message)
    if found is None:
        await unsupported(update, context)
        return
    await accept_song(update, context, message, found)


async def accept_song(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message, found) -> None:
    """Check size and length from the message (before any download), then queue the song.

    ``message`` is the one holding the song (in a group, possibly someone else's message that
    /choreo replied to); the session belongs to whoever asked.
    """
    service = service_of(context)
    lang = lang_of(update)
    media, name, duration = found
    max_bytes = service.settings.max_file_mb * 1024 * 1024
    if media.file_size and media.file_size > max_bytes:
        await update.effective_message.reply_text(
            t(lang, "too_big", size_mb=media.file_size / 1024 / 1024, max_mb=service.settings.max_file_mb))
        return
    if duration and duration > service.settings.max_song_seconds + 0.5:
        await update.effective_message.reply_text(
            t(lang, "too_long", minutes=duration / 60, max_minutes=service.settings.max_song_seconds / 60))
        return
    await service.new_song(message, media.file_id, media.file_unique_id, name, duration, lang,
                           update.effective_user.id, display_name(update.effective_user))


async def unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat.type != ChatType.PRIVATE:
        return  # in groups the bot only answers when it is addressed
    await update.effective_message.reply_text(t(lang_of(update), "unsupported"))


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = service_of(context)
    open_sessions = await service.sessions.open_sessions(chat_id=update.effective_chat.id,
                                                         owner_id=update.effective_user.id)
    if not open_sessions:
        await update.effective_message.reply_text(t(lang_of(update), "nothing_to_cancel"))
        return
    for session in open_sessions:
        async with service.lock(session["id"]):
            await service.cancel(await service.sessions.get(session["id"]))


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    service = service_of(context)
    lang = lang_of(update)
    private = update.effective_chat.type == ChatType.PRIVATE
    rows = await service.sessions.history(owner_id=update.effective_user.id if private else None,
                                          chat_id=None if private else update.effective_chat.id)
    if not rows:
        await update.effective_message.reply_text(t(lang, "history_empty"))
        return
    items = "\n".join(f"• {html.escape(r['song_name'])} — {r['finished_at'][:10]}"
                      + ("" if private else f" ({html.escape(r['owner_name'])})") for r in rows)
    await update.effective_message.reply_text(t(lang, "history" if private else "history_group", items=items),
                                              parse_mode="HTML")


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every inline button: the callback data is an opaque token looked up in the database."""
    service = service_of(context)
    query = update.callback_query
    lang = lang_of(update)
    found = await service.sessions.button(query.data or "")
    if found is None:
        await query.answer(t(lang, "alert_unknown"), show_alert=True)
        return
    session = await service.sessions.get(found.session_id)
    user_id = update.effective_user.id
    if session is None or session["chat_id"] != update.effective_chat.id:
        await query.answer(t(lang, "alert_unknown"), show_alert=True)
        return
    if found.action in ("pick", "auto", "cancel", "close") and not await service.may_choose(session, user_id, found, query):
        return
    async with service.lock(session["id"]):
        session = await service.sessions.get(session["id"])
        await service.handle_button(session, found, user_id, query)
