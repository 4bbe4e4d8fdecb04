"""Callback queries: every inline button goes to the service by its opaque token."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from .common import lang_of, service_of


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await service_of(context).press_button(query.data or "", update.effective_chat.id, update.effective_user.id,
                                           lang_of(update), query, update_id=update.update_id)
