"""Private chats: /start and /help, a song, anything else, /cancel and /history."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from ..texts import t
from .common import accept_song, lang_of, service_of, song_media


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


async def unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat.type != ChatType.PRIVATE:
        return  # in groups the bot only answers when it is addressed
    await update.effective_message.reply_text(t(lang_of(update), "unsupported"))


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await service_of(context).cancel_open(update.effective_chat.id, update.effective_user.id):
        await update.effective_message.reply_text(t(lang_of(update), "nothing_to_cancel"))


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Finished dances with their versions; a button sends a version again."""
    private = update.effective_chat.type == ChatType.PRIVATE
    text, markup = await service_of(context).history_message(
        lang_of(update), private, owner_id=update.effective_user.id if private else None,
        chat_id=None if private else update.effective_chat.id)
    await update.effective_message.reply_text(text, reply_markup=markup, parse_mode="HTML")
