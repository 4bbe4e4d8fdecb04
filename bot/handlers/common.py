"""What the handlers share: the service, the user's language and name, the song in a message,
and accepting a song (private chats and groups alike)."""

from __future__ import annotations

from pathlib import Path

from telegram import Message, Update
from telegram.ext import ContextTypes

from ..service import ChoreoService
from ..texts import language_of, t

AUDIO_EXTENSIONS = {".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".wma", ".amr"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".3gp"}
# Playlists and manifests go by audio mimes ("audio/x-mpegurl"), but they are lists of other
# files or URLs, not sound: refused from the message itself. (Whatever a file's name or mime,
# the engine reads only the containers its first bytes name.)
PLAYLIST_MIME_PARTS = ("mpegurl", "scpls", "x-ms-asx", "xspf", "dash+xml")
PLAYLIST_EXTENSIONS = {".m3u", ".m3u8", ".pls", ".asx", ".xspf", ".mpd", ".cue", ".ffconcat"}


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
        if ext in PLAYLIST_EXTENSIONS or any(part in mime for part in PLAYLIST_MIME_PARTS):
            return None
        if mime.startswith(("audio/", "video/")) or ext in AUDIO_EXTENSIONS | VIDEO_EXTENSIONS:
            return doc, doc.file_name or "file", None
    return None


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
                           update.effective_user.id, display_name(update.effective_user), update_id=update.update_id)
