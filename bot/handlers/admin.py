"""Admins' commands: /learn (a dance video in the message or the one replied to, or a link),
/library (counts by style) and /forget CLIP. Anyone else gets a short refusal."""

from __future__ import annotations

import html

from telegram import Message, Update
from telegram.ext import ContextTypes

from ..service.learning import LearnRequest, Learning
from ..texts import t
from .common import VIDEO_EXTENSIONS, display_name, lang_of


def learning_of(context: ContextTypes.DEFAULT_TYPE) -> Learning:
    return context.application.bot_data["learning"]


def dance_video(message: Message | None):
    """(media, file name) of a video in the message, if there is one."""
    if message is None:
        return None
    if message.video:
        return message.video, message.video.file_name or f"video-{message.message_id}.mp4"
    doc = message.document
    if doc and ((doc.mime_type or "").startswith("video/")
                or any((doc.file_name or "").lower().endswith(ext) for ext in VIDEO_EXTENSIONS)):
        return doc, doc.file_name or f"video-{message.message_id}.mp4"
    return None


async def _admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Learning | None:
    learning = learning_of(context)
    if not learning.is_admin(update.effective_user.id if update.effective_user else None):
        await update.effective_message.reply_text(t(lang_of(update), "admin_only"))
        return None
    return learning


async def learn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/learn [style] [LINK], in a video's caption, as a reply to a video, or with a link."""
    learning = await _admin(update, context)
    if learning is None:
        return
    message = update.effective_message
    lang = lang_of(update)
    words = (message.text or message.caption or "").split()[1:]
    links = [w for w in words if w.startswith(("http://", "https://"))]
    style = " ".join(w for w in words if w not in links).strip().lower() or None
    request = LearnRequest(message.chat_id, message.message_id, lang, "", style)
    found = dance_video(message) or dance_video(message.reply_to_message)
    if links:
        request.url, request.name = links[0], links[0]
    elif found is not None:
        media, name = found
        max_mb = context.application.bot_data["service"].settings.max_file_mb
        if media.file_size and media.file_size > max_mb * 1024 * 1024:
            await message.reply_text(t(lang, "too_big", size_mb=media.file_size / 1024 / 1024, max_mb=max_mb))
            return
        request.file_id, request.name = media.file_id, name
        forwarded = message.reply_to_message if dance_video(message) is None else None
        if forwarded is not None and forwarded.from_user is not None:
            request.performer = display_name(forwarded.from_user)
    else:
        await message.reply_text(t(lang, "learn_usage"))
        return
    await learning.learn(context.bot, request)


async def library(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    learning = await _admin(update, context)
    if learning is not None:
        await update.effective_message.reply_text(await learning.library_text(lang_of(update)))


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    learning = await _admin(update, context)
    if learning is None:
        return
    lang = lang_of(update)
    clip = " ".join(context.args or []).strip()
    if not clip:
        await update.effective_message.reply_text(t(lang, "forget_usage"))
        return
    name = await learning.forget(clip)
    text = t(lang, "forget_done", name=html.escape(name)) if name else t(lang, "forget_unknown", clip=html.escape(clip))
    await update.effective_message.reply_text(text)
