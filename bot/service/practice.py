"""Learning a finished dance in the chat: the practice video and the pose export.

Under the final video, "🪞 Practice" opens a menu (a speed for the whole dance, or "loop a
part": the parts, then a speed) and "⬇️ Export" queues the export. Both run as jobs in the
engine pool like renders (:class:`JobKind.PRACTICE`, :class:`JobKind.EXPORT`); the practice job
shows its progress in its own message and sends the video; the export sends the BVH and the
JSON keypoints as documents. A failure is told in the chat and leaves the finished session as
it was (a practice video is an extra, not the session's work). In a group anyone may ask: the
dance is finished and nothing of the session changes.

A practice button's value packs the part and the speed: ``(part + 1) * 10 + speed index``
(part 0 = the whole dance), so one stored (action, value) says everything the press needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import time
from pathlib import Path

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from choreo_engine.video.practice import SPEEDS
from storage.rows import Button, ButtonAction, Job, JobKind, Session, SessionStatus

from .. import worker
from ..texts import t
from .messages import PROGRESS_MIN_INTERVAL, whose
from .runtime import Runtime

log = logging.getLogger(__name__)

ACTIONS = (ButtonAction.PRACTICE, ButtonAction.PRACTICE_LOOP, ButtonAction.PRACTICE_GO, ButtonAction.EXPORT)
KINDS = (JobKind.PRACTICE, JobKind.EXPORT)
PARTS_PER_PAGE = 40  # Telegram allows 100 buttons under a message
PARTS_PER_ROW = 8
EXPORT_FORMATS = ("bvh", "json")


def learn_actions() -> list[tuple[ButtonAction, int | None]]:
    """The buttons under a finished dance that this module answers."""
    return [(ButtonAction.PRACTICE, None), (ButtonAction.EXPORT, None)]


def learn_row(lang: str, buttons: list[Button]) -> list[InlineKeyboardButton]:
    by_action = {b.action: b for b in buttons}
    return [InlineKeyboardButton(t(lang, f"btn_{a}"), callback_data=by_action[a].token)
            for a in (ButtonAction.PRACTICE, ButtonAction.EXPORT) if a in by_action]


def go_value(part: int | None, speed_index: int) -> int:
    return (0 if part is None else part + 1) * 10 + speed_index


def go_choice(value: int) -> tuple[int | None, float]:
    """(0-based part or None for the whole dance, speed) of a PRACTICE_GO button's value."""
    part, speed = divmod(int(value), 10)
    return (part - 1 if part else None), SPEEDS[min(speed, len(SPEEDS) - 1)]


class Practice:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # ------------------------------------------------------------------ buttons
    async def handle_button(self, session: Session, button: Button, query: CallbackQuery) -> None:
        lang = session.language
        if session.finished_at is None or session.status not in (SessionStatus.DONE, SessionStatus.RENDERING):
            await query.answer(t(lang, "alert_stale"), show_alert=True)
            return
        message_id = query.message.message_id if query.message else None
        if button.action == ButtonAction.PRACTICE:
            await query.answer()
            await self._menu(session)
        elif button.action == ButtonAction.PRACTICE_LOOP:
            await query.answer()
            await self._parts(session, message_id, page=button.value or 0)
        elif button.action == ButtonAction.PRACTICE_GO:
            part, speed = go_choice(button.value)
            if part is not None and not 0 <= part < session.n_segments:
                await query.answer(t(lang, "alert_stale"), show_alert=True)
                return
            if part is not None and button.idx is None:  # a part was chosen: now its speed
                await query.answer()
                await self._speeds(session, message_id, part)
                return
            await query.answer(t(lang, "practice_queued"))
            await self.rt.jobs.enqueue(session.id, JobKind.PRACTICE, payload={"speed": speed, "part": part})
            self.rt.wake.set()
        elif button.action == ButtonAction.EXPORT:
            await query.answer(t(lang, "export_queued"))
            await self.rt.jobs.enqueue(session.id, JobKind.EXPORT)
            self.rt.wake.set()

    def _speed_row(self, lang: str, buttons: list[Button]) -> list[InlineKeyboardButton]:
        return [InlineKeyboardButton(t(lang, "btn_speed", speed=f"{go_choice(b.value)[1]:g}"), callback_data=b.token)
                for b in buttons]

    async def _menu(self, session: Session) -> None:
        """A speed for the whole dance, or loop a part."""
        lang = session.language
        actions = [(ButtonAction.PRACTICE_GO, go_value(None, i)) for i in range(len(SPEEDS))]
        buttons = await self.rt.sessions.make_buttons(session.id, None, actions + [(ButtonAction.PRACTICE_LOOP, 0)])
        loop = InlineKeyboardButton(t(lang, "btn_practice_loop"), callback_data=buttons[-1].token)
        markup = InlineKeyboardMarkup([self._speed_row(lang, buttons[:-1]), [loop]])
        await self.rt.bot.send_message(session.chat_id, t(lang, "practice_menu", song=html.escape(session.song_name))
                                       + whose(session), reply_markup=markup, parse_mode="HTML")

    async def _parts(self, session: Session, message_id: int | None, page: int) -> None:
        """The parts to loop, a page of them at a time (a PRACTICE_LOOP value is the page)."""
        lang = session.language
        first = page * PARTS_PER_PAGE
        parts = list(range(first, min(session.n_segments, first + PARTS_PER_PAGE)))
        actions = [(ButtonAction.PRACTICE_GO, go_value(p, 0)) for p in parts]
        nav = ([(ButtonAction.PRACTICE_LOOP, page - 1)] if page > 0 else []) + (
            [(ButtonAction.PRACTICE_LOOP, page + 1)] if first + PARTS_PER_PAGE < session.n_segments else [])
        buttons = await self.rt.sessions.make_buttons(session.id, None, actions + nav)
        keys = [InlineKeyboardButton(str(p + 1), callback_data=b.token) for p, b in zip(parts, buttons)]
        rows = [keys[i:i + PARTS_PER_ROW] for i in range(0, len(keys), PARTS_PER_ROW)]
        moves = buttons[len(parts):]
        if moves:
            rows.append([InlineKeyboardButton("◀" if b.value < page else "▶", callback_data=b.token)
                         for b in moves])
        await self._edit(session, message_id, t(lang, "practice_parts"), InlineKeyboardMarkup(rows))

    async def _speeds(self, session: Session, message_id: int | None, part: int) -> None:
        lang = session.language
        # idx marks the part as chosen, so the next press of these buttons starts the job
        buttons = await self.rt.sessions.make_buttons(
            session.id, part, [(ButtonAction.PRACTICE_GO, go_value(part, i)) for i in range(len(SPEEDS))])
        await self._edit(session, message_id, t(lang, "practice_part_speed", part=part + 1),
                         InlineKeyboardMarkup([self._speed_row(lang, buttons)]))

    async def _edit(self, session: Session, message_id: int | None, text: str, markup: InlineKeyboardMarkup) -> None:
        try:
            if message_id is None:
                raise TelegramError("no message to edit")
            await self.rt.bot.edit_message_text(text, session.chat_id, message_id, reply_markup=markup,
                                                parse_mode="HTML")
        except Forbidden:
            raise
        except TelegramError:  # the menu is gone or too old to edit: send it anew
            await self.rt.bot.send_message(session.chat_id, text, reply_markup=markup, parse_mode="HTML")

    # ------------------------------------------------------------------ jobs
    async def run(self, job: Job) -> None:
        session = await self.rt.sessions.get(job.session_id)
        if session is None or session.finished_at is None:
            return
        try:
            if job.kind == JobKind.PRACTICE:
                part = job.payload.get("part")
                await self.practice(session, float(job.payload.get("speed", SPEEDS[0])),
                                    None if part is None else int(part))
            else:
                await self.export(session)
        except (Forbidden, asyncio.CancelledError):
            raise
        except Exception:  # the finished dance stays finished: only this extra failed
            log.exception("%s for session %s failed", job.kind, session.id)
            await self.rt.bot.send_message(session.chat_id, t(session.language, f"{job.kind}_failed"))

    async def practice(self, session: Session, speed: float, part: int | None) -> None:
        rt = self.rt
        lang = session.language
        what = t(lang, "practice_whole") if part is None else t(lang, "practice_loop", part=part + 1)
        status = await rt.bot.send_message(session.chat_id, t(lang, "practice_rendering", what=what, speed=f"{speed:g}",
                                                              percent=0))
        picked = await rt.sessions.picked_segment_ids(session.id)
        mode = session.render_mode or "clips"
        picks = hashlib.sha1(",".join(map(str, picked)).encode()).hexdigest()[:10]  # a part changed: a new video
        name = f"practice-{mode}-{speed:g}x-{'all' if part is None else f'part{part + 1}'}-{picks}"
        out = rt.session_dir(session.id) / f"{name}.mp4"
        progress_file = str(rt.session_dir(session.id) / f"{name}.progress")
        task = asyncio.ensure_future(rt.engine.run(
            worker.practice_video, session.song_analysis(), picked, session.song_path, str(out), mode, speed, part,
            t(lang, "practice_overlay_part"), rt.settings.engine, progress_file))
        shown = time.monotonic()
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_MIN_INTERVAL)
            if not task.done() and time.monotonic() - shown >= PROGRESS_MIN_INTERVAL:
                try:
                    percent = int(float(Path(progress_file).read_text()) * 100)
                except (OSError, ValueError):
                    continue
                shown = time.monotonic()
                try:
                    await rt.bot.edit_message_text(t(lang, "practice_rendering", what=what, speed=f"{speed:g}",
                                                     percent=percent), session.chat_id, status.message_id)
                except TelegramError as exc:
                    log.debug("practice progress edit skipped: %s", exc)
        result = task.result()
        caption = t(lang, "practice_done", song=html.escape(session.song_name), what=what, speed=f"{speed:g}")
        duration = round(result["duration"]) if result.get("duration") else None
        with open(result["video"], "rb") as fh:
            await rt.bot.send_video(session.chat_id, fh, caption=caption + whose(session), parse_mode="HTML",
                                    supports_streaming=True, duration=duration,
                                    filename=f"{_safe_stem(session.song_name)}-practice.mp4")
        try:
            await rt.bot.delete_message(session.chat_id, status.message_id)
        except TelegramError as exc:
            log.debug("practice status not deleted: %s", exc)

    async def export(self, session: Session) -> None:
        rt = self.rt
        lang = session.language
        picked = await rt.sessions.picked_segment_ids(session.id)
        files = await rt.engine.run(worker.export_poses, session.song_analysis(), picked,
                                    str(rt.session_dir(session.id) / "export"), EXPORT_FORMATS, rt.settings.engine)
        song = html.escape(session.song_name)
        for fmt in EXPORT_FORMATS:
            with open(files[fmt], "rb") as fh:
                await rt.bot.send_document(session.chat_id, fh, caption=t(lang, f"export_{fmt}", song=song),
                                           parse_mode="HTML", filename=f"{_safe_stem(session.song_name)}.{fmt}")


def _safe_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in Path(name).stem).strip() or "choreo-dance"
    return stem[:60]
