"""Group chats: a song addressed to the bot, /choreo, /mode, the bot leaving a group.

Telegram's default privacy mode shows a bot only commands, mentions and replies to itself, so a
group session starts from one of those: /choreo in reply to a song (anyone's), a song whose
caption holds /choreo, or a song whose caption mentions the bot.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ContextTypes

from ..service import Delivery, PickMode
from ..texts import t
from .common import accept_song, lang_of, service_of, song_media


def addressed_to_bot(text: str | None, bot_username: str) -> bool:
    words = (text or "").lower().split()
    return any(w == "/choreo" or w == f"/choreo@{bot_username.lower()}" or w == f"@{bot_username.lower()}"
               for w in words)


async def group_song(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A song posted in a group counts only when its caption asks for a dance."""
    message = update.effective_message
    if not addressed_to_bot(message.caption, context.bot.username):
        return
    found = song_media(message)
    if found is None:
        await message.reply_text(t(lang_of(update), "unsupported"))
        return
    await accept_song(update, context, message, found)


async def choreo_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/choreo in reply to a message with sound (anyone's) starts a session for the one who asked."""
    message = update.effective_message
    target = message.reply_to_message
    found = song_media(target) if target else None
    if found is None:
        await message.reply_text(t(lang_of(update), "choreo_usage"))
        return
    await accept_song(update, context, target, found)


async def mode_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mode vote|owner (groups: who picks) and /mode auto|choose (any chat: the auto-picked dance at once)."""
    service = service_of(context)
    lang = lang_of(update)
    chat = update.effective_chat
    mode = (context.args[0].lower() if context.args else "")
    if mode in tuple(Delivery) and chat.type == ChatType.PRIVATE:
        await service.set_chat_delivery(chat.id, Delivery(mode), update.effective_user.id)
        await update.effective_message.reply_text(t(lang, f"mode_set_{mode}"))
        return
    if chat.type == ChatType.PRIVATE:
        await update.effective_message.reply_text(t(lang, "mode_private"))
        return
    if mode not in (*PickMode, *Delivery):
        await update.effective_message.reply_text(t(lang, "mode_usage_all"))
        return
    user_id = update.effective_user.id
    allowed = user_id in await service.session_starters(chat.id)
    if not allowed:
        member = await context.bot.get_chat_member(chat.id, user_id)
        allowed = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    if not allowed:
        await update.effective_message.reply_text(t(lang, "mode_denied"))
        return
    if mode in tuple(Delivery):
        await service.set_chat_delivery(chat.id, Delivery(mode), user_id)
        await update.effective_message.reply_text(t(lang, f"mode_set_{mode}"))
        return
    await service.set_chat_mode(chat.id, PickMode(mode), user_id)
    await update.effective_message.reply_text(t(lang, "mode_set", mode=t(lang, f"mode_name_{mode}")))


async def bot_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removed from a group: its open sessions are closed, nothing more is sent there."""
    change = update.my_chat_member
    if change and change.new_chat_member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        await service_of(context).close_chat(change.chat.id, "bot removed from the chat")

