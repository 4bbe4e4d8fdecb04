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
from telegram.error import Forbidden

from storage import Database
from storage.owner import DataDirLock
from storage.retention import is_disk_full
from storage.rows import ButtonAction, Delivery, PickMode, Session, SessionStatus, SharedDance
from storage.sessions import OpenSongsLimit

from ..admin.library import StoredLibrary
from ..config import BotSettings
from ..texts import t
from .choosing import Choosing
from .disk import DiskGuard
from .editing import CHANGE_ACTIONS, Editing
from .jobs import PASSING_FAILURES, EnginePool, JobLoop
from .messages import Messages, whose
from .retention import Retention
from .runtime import Runtime
from .stages import Stages

log = logging.getLogger(__name__)

# buttons only the session's owner may press (except on a part offered for a vote)
OWNER_ACTIONS = (ButtonAction.PICK, ButtonAction.AUTO, ButtonAction.CANCEL, ButtonAction.CLOSE,
                 ButtonAction.AUTO_DANCE, *CHANGE_ACTIONS)
VOTE_TIMER_INTERVAL = 0.5  # seconds between looks for votes past their deadline


class AnsweredOnce:
    """A tap's query whose answer first marks its update handled. Every answer comes after the
    tap's effect is stored, so a bot killed after answering never replays the tap (Telegram would
    refuse a second answer), and one killed before answering replays it and answers then."""

    def __init__(self, query: CallbackQuery, mark_handled) -> None:
        self._query = query
        self._mark_handled = mark_handled
        self.message = query.message

    async def answer(self, *args, **kwargs) -> bool:
        await self._mark_handled()
        return await self._query.answer(*args, **kwargs)


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
        self._vote_timer: asyncio.Task | None = None
        self._owner: DataDirLock | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, bot: Bot) -> None:
        # one owner per data dir: a second bot (or the sandbox) on it would steal its jobs
        self._owner = DataDirLock(self.settings.engine.data_dir)
        self._owner.acquire()
        db = await Database.open(self.settings.engine.database, self.settings.engine.media_dir)
        if self.settings.broker_url:  # engine work on `choreo worker` processes (Celery imported only then)
            from ..tasks import CeleryEnginePool

            self._engine = CeleryEnginePool(self.settings)
        else:
            self._engine = EnginePool(self.settings.workers)
        rt = self.rt = Runtime(self.settings, bot, db, self._engine, self._wake)
        requeued = await rt.jobs.requeue_unfinished()
        if requeued:
            log.info("re-running %d unfinished job(s)", requeued)
        await rt.inbox.prune()
        # here first, so the workers loading the library find nothing left to do
        await StoredLibrary(db).refresh_descriptors(self.settings.engine.descriptor)
        self.messages = Messages(bot, self.settings, rt.files)
        self.choosing = Choosing(rt)
        self.stages = Stages(rt, self.messages, self.choosing)
        self.editing = Editing(rt, self.messages)
        self._engine.start(self.settings.engine)
        self.retention = Retention(rt)
        self.retention.start()
        # a stage that finds the disk full waits for room and runs again (bot.service.disk)
        guarded = DiskGuard(rt, self.retention).wrap(self.stages.run)
        self._loop = JobLoop(rt.jobs, rt.sessions, self._wake, guarded, self.stages.fail,
                             attempts=self.settings.job_attempts, deadline=self.settings.job_deadline_seconds)
        self._loop.start(self.settings.workers)
        self._vote_timer = asyncio.create_task(self._close_votes_on_time(), name="choreo-vote-timer")

    async def stop(self) -> None:
        if self._vote_timer is not None:
            self._vote_timer.cancel()
            await asyncio.gather(self._vote_timer, return_exceptions=True)
            self._vote_timer = None
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
        if self._owner is not None:
            self._owner.release()
            self._owner = None

    async def _close_votes_on_time(self) -> None:
        """Votes close at their deadline whatever the job runners are doing."""
        while True:
            try:
                await self.choosing.close_due_votes()
                await self.editing.close_due_votes()
            except asyncio.CancelledError:
                raise
            except PASSING_FAILURES as exc:  # the database restarting: one line, not a traceback a second
                log.warning("vote timer: closing due votes failed for now: %r", exc)
            except Exception:
                log.exception("vote timer: closing due votes failed")
            await asyncio.sleep(VOTE_TIMER_INTERVAL)

    # ------------------------------------------------------------------ the update inbox
    async def record_update(self, update_id: int, body: dict) -> bool:
        """Write an update down before it is acknowledged; False when it was seen before."""
        return await self.rt.inbox.record(update_id, body)

    async def update_handled(self, update_id: int) -> None:
        await self.rt.inbox.done(update_id)

    async def unhandled_updates(self) -> list[tuple[int, dict]]:
        """Updates recorded but not handled when the last process ended."""
        return await self.rt.inbox.pending()

    # ------------------------------------------------------------------ what chats ask for
    async def new_song(self, message: Message, file_id: str, unique_id: str | None, song_name: str,
                       duration: float | None, lang: str, owner_id: int, owner_name: str,
                       update_id: int | None = None) -> str | None:
        """Queue a song (from ``message``) for its owner and say where it is in the queue.

        None when it was not queued: the owner (or the group) has too many songs open, or the
        disk is full (they are told), or ``update_id`` asked for it before (a replayed update).
        """
        try:
            return await self._new_song(message, file_id, unique_id, song_name, duration, lang, owner_id,
                                        owner_name, update_id)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            log.warning("a new song in chat %s: the disk is full (%s)", message.chat_id, exc)
            self.retention.request()
            await self.rt.bot.send_message(message.chat_id, t(lang, "disk_full_new"),
                                           reply_to_message_id=message.message_id)
            return None

    async def _new_song(self, message: Message, file_id: str, unique_id: str | None, song_name: str,
                        duration: float | None, lang: str, owner_id: int, owner_name: str,
                        update_id: int | None) -> str | None:
        rt = self.rt
        private = message.chat.type == "private"
        mode = PickMode.OWNER if private else await rt.votes.chat_mode(message.chat_id)
        try:
            created = await rt.sessions.create(
                chat_id=message.chat_id, chat_type=message.chat.type, owner_id=owner_id,
                owner_name=owner_name, language=lang, song_name=song_name, song_file_id=file_id,
                song_unique_id=unique_id, song_duration=duration, source_message_id=message.message_id,
                mode=mode, delivery=await rt.votes.chat_delivery(message.chat_id), update_id=update_id,
                max_open_per_owner=self.settings.max_open_songs,
                max_open_per_chat=self.settings.max_open_songs_per_group)
        except OpenSongsLimit as limit:
            key = "too_many_songs" if limit.scope == "owner" else "too_many_songs_group"
            await rt.bot.send_message(message.chat_id, t(lang, key, limit=limit.limit),
                                      reply_to_message_id=message.message_id)
            return None
        if created is None:
            return None
        session_id, job_id = created
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
        """Cancel the owner's open sessions in the chat; False when there were none. A session
        whose dance is already being sent is not cancelled; the chat is told so."""
        open_sessions = await self.rt.sessions.open_sessions(chat_id=chat_id, owner_id=owner_id)
        too_late = None
        for session in open_sessions:
            async with self.rt.lock(session.id):
                session = await self.rt.sessions.get(session.id)
                if not await self.choosing.cancel(session) and session.status == SessionStatus.DELIVERING:
                    too_late = session
        if too_late is not None:
            await self.rt.bot.send_message(chat_id, t(too_late.language, "cancel_too_late"))
        return bool(open_sessions)

    async def history(self, *, owner_id: int | None = None, chat_id: int | None = None) -> list[Session]:
        """Finished dances, newest first: a person's (private chat) or a group's."""
        return await self.rt.sessions.history(owner_id=owner_id, chat_id=chat_id)

    async def press_button(self, token: str, chat_id: int, user_id: int, lang: str, query: CallbackQuery,
                           update_id: int | None = None) -> None:
        """Every inline button: its callback data is an opaque token looked up in the database."""
        rt = self.rt
        if update_id is not None:
            query = AnsweredOnce(query, lambda: rt.inbox.done(update_id))
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
            try:
                if found.action in (*CHANGE_ACTIONS, ButtonAction.RESEND):
                    await self.editing.handle_button(session, found, user_id, query)
                else:
                    await self.choosing.handle_button(session, found, user_id, query)
            except Forbidden:  # the bot was removed while the tap was handled: the chat's sessions end
                await rt.sessions.close_chat(session.chat_id, "chat unavailable")

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
