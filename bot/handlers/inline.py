"""Inline mode: sharing a finished dance into any chat."""

from __future__ import annotations

import html

from telegram import InlineQueryResultCachedVideo, Update
from telegram.ext import ContextTypes

from ..texts import t
from .common import lang_of, service_of


async def inline_share(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The asking user's finished dances, by cached file id (no re-upload)."""
    query = update.inline_query
    lang = lang_of(update)
    dances = await service_of(context).shared_dances(query.from_user.id, query.query.strip())
    results = [
        InlineQueryResultCachedVideo(
            id=f"{d.session_id}-{d.mode}", video_file_id=d.file_id,
            title=f"{d.song_name} ({t(lang, 'mode_' + d.mode)})",
            caption=t(lang, "share_caption", song=html.escape(d.song_name)), parse_mode="HTML")
        for d in dances
    ]
    await query.answer(results, cache_time=0, is_personal=True)
