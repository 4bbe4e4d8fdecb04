"""The service the handlers call: :class:`ChoreoService`.

It starts and stops the parts (database, engine pool, job runners) and offers one method per
thing a chat can ask for; handlers never reach the repositories or the session locks. Everything
a session needs to continue after a restart is in the database (``storage``), so a killed
process picks up where it was: unfinished jobs run again and the buttons already sent keep working.
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import Bot, CallbackQuery, Message

from storage import Database
from storage.retention import is_disk_full
from storage.rows import ButtonAction, Delivery, PickMode, Session, SharedDance

from ..admin.library import StoredLibrary
from ..config import BotSettings
from ..texts import t
from .choosing import Choosing
from .disk import DiskGuard
from .editing import CHANGE_ACTIONS, Editing
from .jobs import EnginePool, JobLoop
from .messages import Messages, whose
from .retention import Retention
from .runtime import Runtime
from .stages import Stages

log = logging.getLogger(__name__)

# buttons only the session's owner may press (except on a part offered for a vote)
OWNER_ACTIONS = (ButtonAction.PICK, ButtonAction.AUTO, ButtonAction.CANCEL, ButtonAction.CLOSE,
                 ButtonAction.AUTO_DANCE, *CHANGE_ACTIONS)


class ChoreoService:
    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self._wake = asyncio.Event()
        self.rt: Runtime | None = None
        self.messages: Messages | None = None
        self.choosing: Choosing | None = None
        self.stages: Stages | None = None
        self.editing: Editing | None = None
        self._engine: EnginePool | None = None
        self._loop: JobLoop | None = None
        self.retention: Retention | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, bot: Bot) -> None:
        db = await Database.open(self.settings.engine.db_path)
        self._engine = EnginePool(self.settings.workers)
        rt = self.rt = Runtime(self.settings, bot, db, self._engine, self._wake)
        requeued = await rt.jobs.requeue_unfinished()
        if requeued:
            log.info("re-running %d unfinished job(s)", requeued)
        # here first, so the workers loading the library find nothing left to do
        await StoredLibrary(db).refresh_descriptors(self.settings.engine.descriptor)
        self.messages = Messages(bot, self.settings, rt.files)
        self.choosing = Choosing(rt)
        self.stages = Stages(rt, self.messages, self.choosing)
        self.editing = Editing(rt, self.messages)
        await self._engine.start(self.settings.engine)
        self.retention = Retention(rt)
        self.retention.start()
        # a stage that finds the disk full waits for room and runs again (bot.service.disk)
        guarded = DiskGuard(rt, self.retention).wrap(self.stages.run)
        self._loop = JobLoop(rt.jobs, rt.sessions, self._wake, guarded, self.choosing.close_due_votes,
                             self.stages.fail)
        self._loop.start(self.settings.workers)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None
        if self.retention is not None:
            await self.retention.stop()
            self.retention = None
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
        if self.rt is not None:
            await self.rt.db.close()
            self.rt = None

    # ------------------------------------------------------------------ what chats ask for
    async def new_song(self, message: Message, file_id: str, unique_id: str | None, song_name: str,
                       duration: float | None, lang: str, owner_id: int, owner_name: str) -> str | None:
        """Queue a song (from ``message``) for its owner and say where it is in the queue; on a full
        disk, say so instead (nothing is queued: the session's row is written in one transaction)."""
        try:
            return await self._new_song(message, file_id, unique_id, song_name, duration, lang, owner_id, owner_name)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            log.warning("a new song in chat %s: the disk is full (%s)", message.chat_id, exc)
            self.retention.request()
            await self.rt.bot.send_message(message.chat_id, t(lang, "disk_full_new"),
                                           reply_to_message_id=message.message_id)
            return None

    async def _new_song(self, message: Message, file_id: str, unique_id: str | None, song_name: str,
                        duration: float | None, lang: str, owner_id: int, owner_name: str) -> str:
        rt = self.rt
        session_id, job_id = await rt.sessions.create(
            chat_id=message.chat_id, chat_type=message.chat.type, owner_id=owner_id,
            owner_name=owner_name, language=lang, song_name=song_name, song_file_id=file_id,
            song_unique_id=unique_id, song_duration=duration, source_message_id=message.message_id)
        if message.chat.type != "private":
            await rt.sessions.update(session_id, mode=await rt.votes.chat_mode(message.chat_id))
        delivery = await rt.votes.chat_delivery(message.chat_id)
        if delivery != Delivery.CHOOSE:
            await rt.sessions.update(session_id, delivery=delivery)
        session = await rt.sessions.get(session_id)
        position = await rt.jobs.queue_position(job_id)
        sent = await rt.bot.send_message(
            message.chat_id, t(lang, "queued", song=html.escape(song_name), position=position) + whose(session),
            reply_to_message_id=message.message_id, parse_mode="HTML")
        await rt.sessions.update(session_id, progress_message_id=sent.message_id)
        self.messages.progress_sent(message.chat_id, sent.message_id)
        self._wake.set()
        return session_id

    async def cancel_open(self, chat_id: int, owner_id: int) -> bool:
        """Cancel the owner's open sessions in the chat; False when there were none."""
        open_sessions = await self.rt.sessions.open_sessions(chat_id=chat_id, owner_id=owner_id)
        for session in open_sessions:
            async with self.rt.lock(session.id):
                await self.choosing.cancel(await self.rt.sessions.get(session.id))
        return bool(open_sessions)

    async def history(self, *, owner_id: int | None = None, chat_id: int | None = None) -> list[Session]:
        """Finished dances, newest first: a person's (private chat) or a group's."""
        return await self.rt.sessions.history(owner_id=owner_id, chat_id=chat_id)

    async def press_button(self, token: str, chat_id: int, user_id: int, lang: str, query: CallbackQuery) -> None:
        """Every inline button: its callback data is an opaque token looked up in the database."""
        rt = self.rt
        found = await rt.sessions.button(token)
        session = await rt.sessions.get(found.session_id) if found is not None else None
        # a version may also be sent again in its owner's private chat (/history there lists all theirs)
        elsewhere = found is not None and found.action == ButtonAction.RESEND and session is not None \
            and chat_id == session.owner_id
        if session is None or (session.chat_id != chat_id and not elsewhere):
            await query.answer(t(lang, "alert_unknown"), show_alert=True)
            return
        if found.action in OWNER_ACTIONS and not await self.choosing.may_choose(session, user_id, found, query):
            return
        async with rt.lock(session.id):
            session = await rt.sessions.get(session.id)
            if found.action in (*CHANGE_ACTIONS, ButtonAction.RESEND):
                await self.editing.handle_button(session, found, user_id, query)
            else:
                await self.choosing.handle_button(session, found, user_id, query)

    async def session_starters(self, chat_id: int) -> set[int]:
        """Who has an open session in the chat."""
        return {s.owner_id for s in await self.rt.sessions.open_sessions(chat_id=chat_id)}

    async def set_chat_mode(self, chat_id: int, mode: PickMode, user_id: int) -> None:
        await self.rt.votes.set_chat_mode(chat_id, mode, user_id)

    async def set_chat_delivery(self, chat_id: int, delivery: Delivery, user_id: int) -> None:
        """/mode auto (the auto-picked dance at once) or /mode choose, for the chat's new songs."""
        await self.rt.votes.set_chat_delivery(chat_id, delivery, user_id)

    async def history_message(self, lang: str, private: bool, *, owner_id: int | None = None,
                              chat_id: int | None = None):
        """/history: the text and, for dances with versions, a button per version to send it again."""
        return await self.editing.history_message(lang, private, owner_id=owner_id, chat_id=chat_id)

    async def close_chat(self, chat_id: int, reason: str) -> int:
        """The bot left the chat: its open sessions end quietly."""
        return await self.rt.sessions.close_chat(chat_id, reason)

    async def shared_dances(self, user_id: int, query: str) -> list[SharedDance]:
        """The user's finished dances with an uploaded video, for inline sharing."""
        return await self.rt.sessions.shared_dances(user_id, query)
