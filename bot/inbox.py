"""Updates made durable before Telegram forgets them.

With long polling, python-telegram-bot's updater puts each fetched update on the application's
queue and then asks for the next ones with a higher offset, which is what acknowledges them to
Telegram, whether or not they were handled. :class:`DurableUpdateQueue` is that queue: its
``put`` (awaited by the updater before the next getUpdates) writes the update to the database
first, so a bot killed at any moment still has every update it acknowledged. A handler in a
late group marks each update handled; at start, what was recorded but not handled is queued
again (:meth:`DurableUpdateQueue.replay`). An update Telegram sends again is recorded once and
handled once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram import Bot, Update
from telegram.ext import ContextTypes

if TYPE_CHECKING:
    from .service import ChoreoService

log = logging.getLogger(__name__)

HANDLED_GROUP = 100  # after every other handler group


class DurableUpdateQueue(asyncio.Queue):
    """The application's update queue, recording updates in the service's inbox on the way in."""

    def __init__(self, service: "ChoreoService") -> None:
        super().__init__()
        self.service = service

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and self.service.rt is not None:
            if not await self.service.record_update(item.update_id, item.to_dict()):
                log.info("update %s was recorded before: not handled twice", item.update_id)
                return
        await super().put(item)

    async def replay(self, bot: Bot) -> int:
        """Queue the updates recorded but not handled before the last process ended."""
        pending = await self.service.unhandled_updates()
        for update_id, body in pending:
            await super().put(Update.de_json(body, bot))
        if pending:
            log.info("replaying %d update(s) recorded before the restart", len(pending))
        return len(pending)


async def mark_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The last handler every update meets: it was handled (or failed for good) and is not replayed."""
    await context.application.bot_data["service"].update_handled(update.update_id)
