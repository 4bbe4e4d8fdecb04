"""The bot's state machine: sessions, jobs and what is sent to the chat.

Handlers (``bot.handlers``) stay thin and call into :class:`ChoreoService`. Engine work runs
in a bounded process pool; everything a session needs to continue after a restart is in the
database (``storage``), so a killed process picks up where it was: unfinished jobs run again
and the buttons already sent keep working.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from choreo_engine.music import features
from choreo_engine.errors import ChoreoError

from . import worker
from .config import BotSettings
from .texts import TEXTS, t
from storage import Database
from storage.library import LibraryRepo
from storage.sessions import Button, SessionRepo

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL = 3.0  # seconds between edits of one progress message
N_CANDIDATES = 6


def whose(session: dict) -> str:
    """In a group every message says whose song it is."""
    if session.get("chat_type", "private") == "private":
        return ""
    return t(session["language"], "owner_suffix", owner=html.escape(session["owner_name"]))


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


class ChoreoService:
    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.db: Database | None = None
        self.sessions: SessionRepo | None = None
        self.pool: ProcessPoolExecutor | None = None
        self.bot: Bot | None = None
        self._wake = asyncio.Event()
        self._runners: list[asyncio.Task] = []
        # (chat id, progress message id) -> monotonic time of the last edit (message ids are per chat)
        self._last_edit: dict[tuple[int, int], float] = {}
        self._session_locks: dict[str, asyncio.Lock] = {}
        self._vote_edits: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self, bot: Bot) -> None:
        self.bot = bot
        self.db = await Database.open(self.settings.engine.db_path)
        self.sessions = SessionRepo(self.db)
        requeued = await self.sessions.requeue_unfinished()
        if requeued:
            log.info("re-running %d unfinished job(s)", requeued)
        # here first, so the workers loading the library find nothing left to do
        await LibraryRepo(self.db).refresh_descriptors(self.settings.engine.descriptor)
        self.pool = self._new_pool()
        loop = asyncio.get_running_loop()
        # Warm every worker (numba compile, library load) before the first song arrives.
        await asyncio.gather(*[loop.run_in_executor(self.pool, worker.warm_up, self.settings.engine)
                               for _ in range(self.settings.workers)])
        self._runners = [asyncio.create_task(self._run_jobs(), name=f"choreo-jobs-{i}")
                         for i in range(self.settings.workers)]
        self._wake.set()

    async def stop(self) -> None:
        for task in self._runners:
            task.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        self._runners = []
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        if self.db is not None:
            await self.db.close()
            self.db = None

    def session_dir(self, session_id: str) -> Path:
        path = self.settings.engine.data_dir / "sessions" / session_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.settings.workers, initializer=worker.exit_with_parent)

    def lock(self, session_id: str) -> asyncio.Lock:
        return self._session_locks.setdefault(session_id, asyncio.Lock())

    async def _engine(self, fn, *args):
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            return await loop.run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            # a worker died (out of memory, a crash in native code): this job fails, later ones
            # get a fresh pool instead of failing too (once, however many jobs saw it break)
            if self.pool is pool:
                log.error("a worker process died; starting a new pool")
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
            raise

    # ------------------------------------------------------------------ new songs
    async def new_song(self, message: Message, file_id: str, unique_id: str | None, song_name: str,
                       duration: float | None, lang: str, owner_id: int, owner_name: str) -> str:
        session_id, job_id = await self.sessions.create(
            chat_id=message.chat_id, chat_type=message.chat.type, owner_id=owner_id,
            owner_name=owner_name, language=lang, song_name=song_name, song_file_id=file_id,
            song_unique_id=unique_id, song_duration=duration, source_message_id=message.message_id)
        if message.chat.type != "private":
            await self.sessions.update(session_id, mode=await self.sessions.chat_mode(message.chat_id))
        session = await self.sessions.get(session_id)
        position = await self.sessions.queue_position(job_id)
        sent = await self.bot.send_message(
            message.chat_id, t(lang, "queued", song=html.escape(song_name), position=position) + whose(session),
            reply_to_message_id=message.message_id, parse_mode="HTML")
        await self.sessions.update(session_id, progress_message_id=sent.message_id)
        self._last_edit[(message.chat_id, sent.message_id)] = time.monotonic()
        self._wake.set()
        return session_id

    async def progress(self, session: dict, key: str, force: bool = False, **values) -> None:
        """Edit the session's one progress message, at most every PROGRESS_MIN_INTERVAL seconds.

        An intermediate stage that comes too soon is skipped; a ``force`` edit (the last one)
        waits for its turn instead.
        """
        message_id = session.get("progress_message_id")
        if not message_id:
            return
        edited = (session["chat_id"], message_id)
        wait = PROGRESS_MIN_INTERVAL - (time.monotonic() - self._last_edit.get(edited, 0.0))
        if wait > 0:
            if not force:
                return
            await asyncio.sleep(wait)
        text = t(session["language"], key, song=html.escape(session["song_name"]), **values) + whose(session)
        self._last_edit[edited] = time.monotonic()
        try:
            await self.bot.edit_message_text(text, session["chat_id"], message_id, parse_mode="HTML")
        except Forbidden:
            raise  # the chat is gone: the job runner closes its sessions
        except TelegramError as exc:  # "not modified", a network hiccup: a progress line is not worth a song
            log.debug("progress edit skipped: %s", exc)

    # ------------------------------------------------------------------ the job loop
    async def _run_jobs(self) -> None:
        while True:
            try:
                job = await self.sessions.claim_job()
                if job is None:
                    await self._close_due_votes()
            except asyncio.CancelledError:
                raise
            except Exception:  # a runner must outlive any one error, or songs queue for ever
                log.exception("job runner: claiming a job or closing votes failed")
                job = None
            if job is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                await self._run_job(job)
                await self.sessions.finish_job(job["id"], "done")
            except asyncio.CancelledError:
                raise  # shutting down: the job stays 'running' and is re-queued at the next start
            except Forbidden as exc:  # the bot was removed from the chat or blocked: close quietly
                log.info("job %s: chat is gone (%s); closing its sessions", job["id"], exc)
                await self.sessions.finish_job(job["id"], "done")
                session = await self.sessions.get(job["session_id"])
                if session:
                    await self.sessions.close_chat(session["chat_id"], f"chat unavailable: {exc}")
            except Exception as exc:
                log.exception("job %s failed", job)
                await self.sessions.finish_job(job["id"], "failed")
                await self._fail_session(job["session_id"], exc)

    async def _run_job(self, job: dict) -> None:
        if job["kind"] == "render":
            # not under the session's lock: a render takes minutes, and buttons and /cancel must be
            # answered meanwhile; its writes are conditional on the session still rendering
            session = await self.sessions.get(job["session_id"])
            if session is not None and session["status"] == "rendering":
                await self._render(session, job["payload"].get("mode") or session["render_mode"])
            return
        async with self.lock(job["session_id"]):
            session = await self.sessions.get(job["session_id"])  # read under the lock: a cancel is seen
            if session is None or session["status"] in ("cancelled", "failed"):
                return
            if job["kind"] == "analyse":
                await self._analyse(session)
            elif job["kind"] == "offer":
                await self._offer(session, job["idx"])

    async def _fail_session(self, session_id: str, exc: Exception) -> None:
        session = await self.sessions.get(session_id)
        if session is None:
            return
        await self.sessions.set_status(session_id, "failed", error=str(exc)[:500])
        lang = session["language"]
        if isinstance(exc, ChoreoError):
            key = f"error.{exc.code}"
            text = t(lang, key, max_minutes=self.settings.max_song_seconds / 60) if key in TEXTS["en"] else exc.message
        else:
            text = t(lang, "failed", song=html.escape(session["song_name"]))
        try:
            if session.get("progress_message_id"):
                await self.bot.edit_message_text(text, session["chat_id"], session["progress_message_id"],
                                                  parse_mode="HTML")
            else:
                await self.bot.send_message(session["chat_id"], text, parse_mode="HTML")
        except Forbidden:
            log.info("chat %s is gone; session %s closed", session["chat_id"], session_id)
        except TelegramError as err:
            log.warning("could not report failure: %s", err)

    # ------------------------------------------------------------------ stages
    async def _download(self, session: dict) -> str:
        if session.get("song_path") and Path(session["song_path"]).exists():
            return session["song_path"]
        tg_file = await self.bot.get_file(session["song_file_id"])
        suffix = Path(tg_file.file_path or "").suffix or ".bin"
        path = self.session_dir(session["id"]) / f"song{suffix}"
        await tg_file.download_to_drive(path)
        await self.sessions.update(session["id"], song_path=str(path))
        return str(path)

    async def _analyse(self, session: dict) -> None:
        await self.sessions.set_status(session["id"], "analysing")
        song_path = await self._download(session)
        await self.progress(session, "analysing", force=True)
        analysis, descriptors = await self._engine(worker.analyse, song_path, self.settings.engine)
        await self.sessions.store_analysis(session["id"], analysis, descriptors, song_path,
                                           features.descriptor_tag(self.settings.engine.descriptor))
        await self.progress(session, "matching", segments=len(analysis["segments"]))
        await self._offer(await self.sessions.get(session["id"]), 0)

    async def _descriptors(self, session: dict, analysis: dict) -> np.ndarray:
        """The song's segment descriptors, computed again if they were made another way
        (a session analysed before the descriptor changed and the bot restarted)."""
        tag = features.descriptor_tag(self.settings.engine.descriptor)
        if session["descriptor_tag"] == tag:
            return np.frombuffer(session["descriptors"], dtype=np.float32).reshape(session["n_segments"], -1)
        descriptors = await self._engine(worker.describe, session["song_path"], analysis, self.settings.engine)
        await self.sessions.store_descriptors(session["id"], descriptors, tag)
        return descriptors

    async def _offer(self, session: dict, idx: int) -> None:
        seg_row = await self.sessions.segment(session["id"], idx)
        if session["status"] != "choosing" or seg_row is None or seg_row["status"] != "pending":
            return  # already offered (a re-run job) or no longer choosing
        await self.progress(session, "previews")
        analysis = json.loads(session["analysis"])
        descriptors = await self._descriptors(session, analysis)
        picked = await self.sessions.picked_segment_ids(session["id"])
        out = self.session_dir(session["id"]) / f"preview-{idx + 1:03d}.mp4"
        result = await self._engine(worker.offer, analysis, descriptors, idx, picked, session["song_path"],
                                    str(out), self.settings.engine)
        await self.sessions.store_candidates(session["id"], idx, result["candidates"])
        if not result["candidates"]:
            # nothing fits this part at all: choose automatically from what the planner allows
            await self.auto_pick(session, idx, user_id=None)
            return
        lang = session["language"]
        seg = analysis["segments"][idx]
        caption = t(lang, "offer", part=idx + 1, total=session["n_segments"], start=_fmt_time(seg["start"]),
                    end=_fmt_time(seg["end"]), song=html.escape(session["song_name"])) + whose(session)
        if session["mode"] == "vote":
            caption += t(lang, "vote_hint", minutes=max(1, round(self.settings.vote_timeout_seconds / 60)))
        if result["note"]:
            caption += t(lang, "offer_short", note=html.escape(result["note"]))
        ranks = [c["rank"] for c in result["candidates"]]
        actions = [("pick", r) for r in ranks] + [("auto", None), ("cancel", None)]
        if session["mode"] == "vote":
            actions.append(("close", None))
        # A re-run after a crash between sending and recording reuses the same tokens, so the
        # buttons of a preview that did go out keep working alongside the new one.
        buttons = await self.sessions.segment_buttons(session["id"], idx)
        if [(b.action, b.value) for b in buttons] != actions:
            buttons = await self.sessions.make_buttons(session["id"], idx, actions)
        markup = self.offer_keyboard(lang, buttons)
        with open(result["preview"], "rb") as fh:
            sent = await self.bot.send_video(session["chat_id"], fh, caption=caption, reply_markup=markup,
                                             parse_mode="HTML", supports_streaming=True,
                                             filename=f"part-{idx + 1}.mp4")
        await self.sessions.offer(session["id"], idx, sent.message_id)
        if session["mode"] == "vote":  # the deadline also marks the part as voted (part_is_voted)
            await self.sessions.set_vote_deadline(session["id"], idx, time.time() + self.settings.vote_timeout_seconds)
        if idx == 0:  # after the preview, so the throttled edit never delays it
            await self.progress(session, "ready", force=True, segments=session["n_segments"],
                                tempo=round(analysis["tempo"]))

    def offer_keyboard(self, lang: str, buttons: list[Button], counts: dict[int, int] | None = None) -> InlineKeyboardMarkup:
        picks = [b for b in buttons if b.action == "pick"]
        label = lambda b: f"{b.value}" + (f" · {counts[b.value]}" if counts and counts.get(b.value) else "")
        rows = [[InlineKeyboardButton(label(b), callback_data=b.token) for b in picks[i:i + 3]]
                for i in range(0, len(picks), 3)]
        extra = {b.action: b for b in buttons if b.action != "pick"}
        tail = []
        if "auto" in extra:
            tail.append(InlineKeyboardButton(t(lang, "btn_auto"), callback_data=extra["auto"].token))
        if "cancel" in extra:
            tail.append(InlineKeyboardButton(t(lang, "btn_cancel"), callback_data=extra["cancel"].token))
        if "close" in extra:
            tail.append(InlineKeyboardButton(t(lang, "btn_close"), callback_data=extra["close"].token))
        return InlineKeyboardMarkup(rows + ([tail] if tail else []))

    async def _render(self, session: dict, mode: str) -> None:
        existing = await self.sessions.result(session["id"], mode)
        if existing is None:
            await self.progress(session, "rendering", force=True, percent=0)
            picked = await self.sessions.picked_segment_ids(session["id"])
            analysis = json.loads(session["analysis"])
            progress_file = str(self.session_dir(session["id"]) / f"render-{mode}.progress")
            task = asyncio.ensure_future(self._engine(
                worker.render_result, analysis, picked, session["song_path"], str(self.session_dir(session["id"])),
                mode, self.settings.engine, progress_file))
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_MIN_INTERVAL)
                if not task.done():
                    try:
                        percent = int(float(Path(progress_file).read_text()) * 100)
                    except (OSError, ValueError):
                        percent = 0
                    await self.progress(session, "rendering", percent=percent)
            result = task.result()
            await self.sessions.store_result(session["id"], mode, result["video"], result["sheet"], result["sha256"])
            existing = await self.sessions.result(session["id"], mode)
        if (await self.sessions.get(session["id"]))["status"] != "rendering":
            return  # cancelled while rendering: the video stays stored, nothing is sent
        await self.send_result(session, existing, mode)

    async def send_result(self, session: dict, result: dict, mode: str) -> None:
        lang = session["language"]
        analysis = json.loads(session["analysis"])
        minutes, seconds = divmod(int(round(analysis["duration"])), 60)
        buttons = await self.sessions.make_buttons(
            session["id"], None, [("mode", 0 if mode == "avatar" else 1), ("again", None)])
        other = "clips" if mode == "avatar" else "avatar"
        markup = InlineKeyboardMarkup([
            [InlineKeyboardButton(t(lang, f"btn_{other}"), callback_data=buttons[0].token),
             InlineKeyboardButton(t(lang, "btn_again"), callback_data=buttons[1].token)],
            [InlineKeyboardButton(t(lang, "btn_share"), switch_inline_query=session["song_name"][:64])],
        ])
        caption = t(lang, "done", song=html.escape(session["song_name"]), minutes=minutes, seconds=seconds,
                    mode=t(lang, f"mode_{mode}")) + whose(session)
        sent = await self.send_cached_video(session["chat_id"], result["video_path"], result["video_sha256"], caption,
                                            markup, analysis["duration"])
        first_result = session.get("finished_at") is None
        await self.sessions.set_status(session["id"], "done", result_message_id=sent.message_id, render_mode=mode)
        if first_result and result.get("sheet_path"):
            with open(result["sheet_path"], "rb") as fh:
                await self.bot.send_photo(session["chat_id"], fh,
                                          caption=t(lang, "sheet", song=html.escape(session["song_name"])),
                                          parse_mode="HTML")

    async def send_cached_video(self, chat_id: int, path: str, sha256: str, caption: str,
                                markup: InlineKeyboardMarkup | None, duration: float | None = None) -> Message:
        """Send a video by its cached file_id when it was uploaded before; upload otherwise."""
        file_id = await self.sessions.cached_file_id(sha256)
        if file_id:
            return await self.bot.send_video(chat_id, file_id, caption=caption, reply_markup=markup, parse_mode="HTML")
        with open(path, "rb") as fh:
            sent = await self.bot.send_video(chat_id, fh, caption=caption, reply_markup=markup, parse_mode="HTML",
                                             supports_streaming=True, duration=round(duration) if duration else None,
                                             filename="choreo-dance.mp4")
        if sent.video:
            await self.sessions.cache_file_id(sha256, sent.video.file_id, "video")
        return sent

    # ------------------------------------------------------------------ choosing
    async def collapse(self, session: dict, idx: int, rank: int, auto: bool = False,
                       pressed_message_id: int | None = None) -> None:
        """The segment's preview (and the message the button was on) keeps only its choice."""
        seg_row = await self.sessions.segment(session["id"], idx)
        ids = {seg_row["preview_message_id"] if seg_row else None, pressed_message_id} - {None}
        key = "picked_auto" if auto else "picked"
        caption = t(session["language"], key, part=idx + 1, total=session["n_segments"], rank=rank)
        for message_id in sorted(ids):
            try:
                await self.bot.edit_message_caption(chat_id=session["chat_id"], message_id=message_id,
                                                    caption=caption, reply_markup=None)
            except Forbidden:
                raise
            except TelegramError as exc:  # the pick is recorded; only its caption did not change
                log.debug("collapse skipped: %s", exc)

    async def pick(self, session: dict, idx: int, rank: int, user_id: int | None, source: str = "user",
                   pressed_message_id: int | None = None) -> bool:
        """Record a pick for the offered segment and queue what comes next; False if stale."""
        candidates = await self.sessions.candidates(session["id"], idx)
        chosen = next((c for c in candidates if c["rank"] == rank), None)
        if chosen is None:
            return False
        last = idx + 1 >= session["n_segments"]
        ok = await self.sessions.record_picks(
            session["id"], [(idx, rank, chosen["library_segment_id"])], user_id, source,
            next_job=("render", None) if last else ("offer", idx + 1))
        if ok:
            await self.collapse(session, idx, rank, pressed_message_id=pressed_message_id)
            self._wake.set()
        return ok

    async def auto_pick(self, session: dict, idx: int, user_id: int | None,
                        pressed_message_id: int | None = None) -> bool:
        """Choose segments ``idx..`` by the auto path and queue the render."""
        analysis = json.loads(session["analysis"])
        descriptors = await self._descriptors(session, analysis)
        picked = await self.sessions.picked_segment_ids(session["id"])
        offered = await self.sessions.candidates(session["id"], idx)
        rest = await self._engine(worker.auto_rest, analysis, descriptors, idx, picked, offered, self.settings.engine)
        ok = await self.sessions.record_picks(session["id"], rest, user_id, "auto", next_job=("render", None))
        if ok:
            await self.collapse(session, idx, rest[0][1] or 0, auto=True, pressed_message_id=pressed_message_id)
            self._wake.set()
        return ok

    async def cancel(self, session: dict) -> bool:
        if not await self.sessions.set_status(session["id"], "cancelled",
                                              only_if=("queued", "analysing", "choosing", "rendering")):
            return False
        seg_row = await self.sessions.segment(session["id"], session["current_segment"] or 0)
        lang = session["language"]
        if seg_row and seg_row["preview_message_id"] and seg_row["status"] == "offered":
            try:
                await self.bot.edit_message_reply_markup(session["chat_id"], seg_row["preview_message_id"],
                                                         reply_markup=None)
            except BadRequest:
                pass
        await self.bot.send_message(session["chat_id"], t(lang, "cancelled", song=html.escape(session["song_name"])),
                                    parse_mode="HTML")
        return True

    async def switch_mode(self, session: dict, mode: str) -> bool:
        """Render (or re-send) the other mode; False when a render is already under way."""
        if not await self.sessions.set_status(session["id"], "rendering", only_if=("done",)):
            return False
        await self.sessions.enqueue(session["id"], "render", payload={"mode": mode})
        self._wake.set()
        return True

    # ------------------------------------------------------------------ buttons
    async def part_is_voted(self, session: dict, button: Button) -> bool:
        """Whether the button's part was offered for a vote. A part keeps the mode it was offered
        in (its keyboard and deadline were made for it); a /mode change applies from the next part."""
        if button.action != "pick" or button.idx is None:
            return False
        seg_row = await self.sessions.segment(session["id"], button.idx)
        return seg_row is not None and seg_row["vote_deadline"] is not None

    async def may_choose(self, session: dict, user_id: int, button: Button, query) -> bool:
        """Only the person who started the session picks; on a voted part everyone taps 1-6."""
        if user_id == session["owner_id"] or await self.part_is_voted(session, button):
            return True
        await query.answer(t(session["language"], "alert_owner_only", name=session["owner_name"]), show_alert=True)
        return False

    async def handle_button(self, session: dict, button: Button, user_id: int, query) -> None:
        lang = session["language"]
        if await self.part_is_voted(session, button):
            await self.cast_vote(session, button, user_id, query)
            return
        if button.action == "close":
            seg_row = await self.sessions.segment(session["id"], button.idx)
            if session["status"] != "choosing" or seg_row is None or seg_row["status"] != "offered":
                await query.answer(t(lang, "alert_stale"), show_alert=True)
                return
            await query.answer()
            await self.close_vote(session, button.idx)
            return
        if button.action in ("pick", "auto"):
            seg_row = await self.sessions.segment(session["id"], button.idx)
            if seg_row and seg_row["status"] == "picked":
                await query.answer(t(lang, "alert_done_already"))
                return
            if session["status"] != "choosing" or seg_row is None or seg_row["status"] != "offered":
                await query.answer(t(lang, "alert_stale"), show_alert=True)
                return
            pressed = query.message.message_id if query.message else None
            if button.action == "pick":
                ok = await self.pick(session, button.idx, button.value, user_id, pressed_message_id=pressed)
            else:
                ok = await self.auto_pick(session, button.idx, user_id, pressed_message_id=pressed)
            await query.answer("✓" if ok else t(lang, "alert_done_already"))
        elif button.action == "cancel":
            if await self.cancel(session):
                await query.answer()
            else:
                await query.answer(t(lang, "alert_stale"), show_alert=True)
        elif button.action == "mode":
            if session["status"] != "done":
                await query.answer(t(lang, "alert_busy" if session["status"] == "rendering" else "alert_stale"),
                                   show_alert=True)
                return
            started = await self.switch_mode(session, "clips" if button.value == 0 else "avatar")
            await query.answer(t(lang, "alert_busy"), show_alert=not started)
        elif button.action == "again":
            await query.answer()
            await self.bot.send_message(session["chat_id"], t(lang, "again"))
        else:
            await query.answer(t(lang, "alert_stale"), show_alert=True)

    # ------------------------------------------------------------------ group votes
    VOTE_EDIT_DELAY = 2.0  # seconds: vote counts are shown in one edit per burst of taps

    async def cast_vote(self, session: dict, button: Button, user_id: int, query) -> None:
        lang = session["language"]
        if session["status"] != "choosing" or not await self.sessions.vote(session["id"], button.idx, user_id, button.value):
            await query.answer(t(lang, "alert_stale"), show_alert=True)
            return
        await query.answer(t(lang, "vote_counted", rank=button.value))
        key = (session["id"], button.idx)
        if key not in self._vote_edits:
            self._vote_edits.add(key)
            asyncio.get_running_loop().call_later(
                self.VOTE_EDIT_DELAY, lambda: asyncio.ensure_future(self._show_votes(*key)))

    async def _show_votes(self, session_id: str, idx: int) -> None:
        self._vote_edits.discard((session_id, idx))
        session = await self.sessions.get(session_id)
        seg_row = await self.sessions.segment(session_id, idx)
        if not session or not seg_row or seg_row["status"] != "offered" or not seg_row["preview_message_id"]:
            return
        counts = await self.sessions.vote_counts(session_id, idx)
        buttons = await self.sessions.segment_buttons(session_id, idx)
        try:
            await self.bot.edit_message_reply_markup(session["chat_id"], seg_row["preview_message_id"],
                                                     reply_markup=self.offer_keyboard(session["language"], buttons, counts))
        except BadRequest as exc:
            log.debug("vote count edit skipped: %s", exc)
        except Forbidden:
            await self.sessions.close_chat(session["chat_id"], "chat unavailable")

    async def close_vote(self, session: dict, idx: int) -> bool:
        """The most voted candidate wins; a tie goes to the higher-ranked one; no votes: rank 1.

        The caller holds the session's lock.
        """
        counts = await self.sessions.vote_counts(session["id"], idx)
        winner = min(counts, key=lambda r: (-counts[r], r)) if counts else 1
        await self.sessions.set_vote_deadline(session["id"], idx, None)
        return await self.pick(session, idx, winner, None, source="vote")

    async def _close_due_votes(self) -> None:
        for session_id, idx in await self.sessions.due_votes(time.time()):
            async with self.lock(session_id):
                session = await self.sessions.get(session_id)
                seg_row = await self.sessions.segment(session_id, idx)
                if not session or session["status"] != "choosing" or not seg_row or seg_row["status"] != "offered":
                    continue
                try:
                    await self.close_vote(session, idx)
                except Forbidden:
                    await self.sessions.close_chat(session["chat_id"], "chat unavailable")
