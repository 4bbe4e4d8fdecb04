"""Choosing a move per part: picks by the owner, the auto path, group votes and their
deadlines, cancelling, and what every button press does."""

from __future__ import annotations

import asyncio
import html
import logging
import time

from telegram import CallbackQuery
from telegram.error import BadRequest, Forbidden, TelegramError

from storage.rows import (CANCELLABLE_STATUSES, Button, ButtonAction, JobKind, PickSource, SegmentStatus, Session,
                          SessionStatus)

from .. import stopwatch, worker
from ..texts import t
from . import keyboards, practice
from .ahead import Ahead
from .runtime import Runtime
from .stages import song_descriptors

log = logging.getLogger(__name__)

VOTE_EDIT_DELAY = 2.0  # seconds: vote counts are shown in one edit per burst of taps


class Choosing:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._vote_edits: set[tuple[str, int]] = set()
        self.practice = practice.Practice(rt)
        self.ahead = Ahead(rt)  # work made ahead of the final (the stages run it)

    # ------------------------------------------------------------------ picks
    async def collapse(self, session: Session, idx: int, rank: int, auto: bool = False,
                       pressed_message_id: int | None = None) -> None:
        """The segment's preview (and the message the button was on) keeps only its choice."""
        seg_row = await self.rt.sessions.segment(session.id, idx)
        ids = {seg_row.preview_message_id if seg_row else None, pressed_message_id} - {None}
        key = "picked_auto" if auto else "picked"
        caption = t(session.language, key, part=idx + 1, total=session.n_segments, rank=rank)
        for message_id in sorted(ids):
            try:
                await self.rt.bot.edit_message_caption(chat_id=session.chat_id, message_id=message_id,
                                                       caption=caption, reply_markup=None)
            except Forbidden:
                raise
            except TelegramError as exc:  # the pick is recorded; only its caption did not change
                log.debug("collapse skipped: %s", exc)

    async def pick(self, session: Session, idx: int, rank: int, user_id: int | None,
                   source: PickSource = PickSource.USER) -> bool:
        """Record a pick for the offered segment and queue what comes next; False if stale.
        The caller shows it (:meth:`collapse`), after answering the tap."""
        candidates = await self.rt.sessions.candidates(session.id, idx)
        chosen = next((c for c in candidates if c.rank == rank), None)
        if chosen is None:
            return False
        last = idx + 1 >= session.n_segments
        ok = await self.rt.sessions.record_picks(
            session.id, [(idx, rank, chosen.library_segment_id)], user_id, source,
            next_job=(JobKind.RENDER, None) if last else (JobKind.OFFER, idx + 1))
        if ok:
            if not last and (session.render_mode or "clips") == "clips":
                # the final video's pieces this pick decides, made while the next part is chosen
                await self.rt.jobs.enqueue(session.id, JobKind.PIECES, idx)
            self.rt.wake.set()
        return ok

    async def auto_pick(self, session: Session, idx: int, user_id: int | None,
                        pressed_message_id: int | None = None) -> bool:
        """Choose segments ``idx..`` by the auto path and queue the render."""
        rt = self.rt
        analysis = session.song_analysis()
        descriptors = await song_descriptors(rt, session, analysis)
        picked = await rt.sessions.picked_segment_ids(session.id)
        offered = [{"library_segment_id": c.library_segment_id, "rank": c.rank}
                   for c in await rt.sessions.candidates(session.id, idx)]
        with stopwatch.timed(session.chat_id, "planning"):
            if idx == 0 and not picked:  # worked out ahead, or being worked out: not again beside it
                rest = worker.ranked_path(0, await self.ahead.auto_path(session), offered)
            else:
                rest = await rt.engine.run(worker.auto_rest, analysis, descriptors, idx, picked, offered,
                                           rt.settings.engine)
        ok = await rt.sessions.record_picks(session.id, rest, user_id, PickSource.AUTO, next_job=(JobKind.RENDER, None))
        if ok:
            rt.wake.set()
            await self.collapse(session, idx, rest[0][1] or 0, auto=True, pressed_message_id=pressed_message_id)
        return ok

    async def cancel(self, session: Session) -> bool:
        """False when the session is no longer cancellable (finished, or its dance is being sent).
        Cancelling a switch to the other mode leaves the delivered dance as it was (done)."""
        rt = self.rt
        if session.finished_at is not None:
            cancelled = await rt.sessions.set_status(session.id, SessionStatus.DONE, only_if=(SessionStatus.RENDERING,))
        else:
            cancelled = await rt.sessions.set_status(session.id, SessionStatus.CANCELLED, only_if=CANCELLABLE_STATUSES)
        if not cancelled:
            return False
        seg_row = await rt.sessions.segment(session.id, session.current_segment or 0)
        if seg_row and seg_row.preview_message_id and seg_row.status == SegmentStatus.OFFERED:
            try:
                await rt.bot.edit_message_reply_markup(session.chat_id, seg_row.preview_message_id, reply_markup=None)
            except BadRequest:
                pass
        await rt.bot.send_message(session.chat_id, t(session.language, "cancelled", song=html.escape(session.song_name)),
                                  parse_mode="HTML")
        return True

    async def switch_mode(self, session: Session, mode: str) -> bool:
        """Render (or re-send) the other mode; False when a render is already under way."""
        if not await self.rt.sessions.start_render(session.id, mode):
            return False
        self.rt.wake.set()
        return True

    # ------------------------------------------------------------------ buttons
    async def part_is_voted(self, session: Session, button: Button) -> bool:
        """Whether the button's part was offered for a vote. A part keeps the mode it was offered
        in (its keyboard and deadline were made for it); a /mode change applies from the next part.
        A finished dance's part offered again for a change is voted on while its change vote is open."""
        if button.action == ButtonAction.CHANGE_PICK and button.idx is not None:
            return await self.rt.versions.change_vote_open(session.id, button.idx)
        if button.action != ButtonAction.PICK or button.idx is None:
            return False
        seg_row = await self.rt.sessions.segment(session.id, button.idx)
        return seg_row is not None and seg_row.vote_deadline is not None

    async def may_choose(self, session: Session, user_id: int, button: Button, query: CallbackQuery) -> bool:
        """Only the person who started the session picks; on a voted part everyone taps 1-6."""
        if user_id == session.owner_id or await self.part_is_voted(session, button):
            return True
        await query.answer(t(session.language, "alert_owner_only", name=session.owner_name), show_alert=True)
        return False

    async def handle_button(self, session: Session, button: Button, user_id: int, query: CallbackQuery) -> None:
        """A press of one of the session's buttons (the caller holds the session's lock)."""
        lang = session.language
        if await self.part_is_voted(session, button):
            await self.cast_vote(session, button, user_id, query)
            return
        if button.action == ButtonAction.CLOSE:
            seg_row = await self.rt.sessions.segment(session.id, button.idx)
            if session.status != SessionStatus.CHOOSING or seg_row is None or seg_row.status != SegmentStatus.OFFERED:
                await query.answer(t(lang, "alert_stale"), show_alert=True)
                return
            await self.close_vote(session, button.idx)
            await query.answer()
            return
        if button.action in (ButtonAction.PICK, ButtonAction.AUTO, ButtonAction.AUTO_DANCE):
            seg_row = await self.rt.sessions.segment(session.id, button.idx)
            if seg_row and seg_row.status == SegmentStatus.PICKED:
                await query.answer(t(lang, "alert_done_already"))
                return
            if session.status != SessionStatus.CHOOSING or seg_row is None or seg_row.status != SegmentStatus.OFFERED:
                await query.answer(t(lang, "alert_stale"), show_alert=True)
                return
            pressed = query.message.message_id if query.message else None
            if button.action in (ButtonAction.AUTO, ButtonAction.AUTO_DANCE):
                # the auto path is engine work: queued ahead of new songs, the tap answered at once
                # ("Auto dance now" on the first preview is the same: every part from there)
                await self.rt.jobs.enqueue(session.id, JobKind.AUTO, button.idx,
                                           payload={"user_id": user_id, "message_id": pressed})
                self.rt.wake.set()
                await query.answer("✓")
                return
            ok = await self.pick(session, button.idx, button.value, user_id)
            await query.answer("✓" if ok else t(lang, "alert_done_already"))
            if ok:
                await self.collapse(session, button.idx, button.value, pressed_message_id=pressed)
        elif button.action == ButtonAction.CANCEL:
            if await self.cancel(session):
                await query.answer()
            else:
                await query.answer(t(lang, "alert_stale"), show_alert=True)
        elif button.action == ButtonAction.MODE:
            if session.status != SessionStatus.DONE:
                busy = session.status in (SessionStatus.RENDERING, SessionStatus.DELIVERING)
                await query.answer(t(lang, "alert_busy" if busy else "alert_stale"), show_alert=True)
                return
            started = await self.switch_mode(session, keyboards.RENDER_MODES[button.value])
            await query.answer(t(lang, "alert_busy"), show_alert=not started)
        elif button.action == ButtonAction.AGAIN:
            await query.answer()
            await self.rt.bot.send_message(session.chat_id, t(lang, "again"))
        elif button.action in practice.ACTIONS:
            await self.practice.handle_button(session, button, query)
        else:
            await query.answer(t(lang, "alert_stale"), show_alert=True)

    # ------------------------------------------------------------------ group votes
    async def cast_vote(self, session: Session, button: Button, user_id: int, query: CallbackQuery) -> None:
        lang = session.language
        if session.status != SessionStatus.CHOOSING or not await self.rt.votes.vote(session.id, button.idx, user_id,
                                                                                    button.value):
            await query.answer(t(lang, "alert_stale"), show_alert=True)
            return
        await query.answer(t(lang, "vote_counted", rank=button.value))
        key = (session.id, button.idx)
        if key not in self._vote_edits:
            self._vote_edits.add(key)
            asyncio.get_running_loop().call_later(
                VOTE_EDIT_DELAY, lambda: asyncio.ensure_future(self._show_votes(*key)))

    async def _show_votes(self, session_id: str, idx: int) -> None:
        rt = self.rt
        self._vote_edits.discard((session_id, idx))
        session = await rt.sessions.get(session_id)
        seg_row = await rt.sessions.segment(session_id, idx)
        if not session or not seg_row or seg_row.status != SegmentStatus.OFFERED or not seg_row.preview_message_id:
            return
        counts = await rt.votes.counts(session_id, idx)
        buttons = await rt.sessions.segment_buttons(session_id, idx)
        try:
            await rt.bot.edit_message_reply_markup(session.chat_id, seg_row.preview_message_id,
                                                   reply_markup=keyboards.offer_keyboard(session.language, buttons,
                                                                                         counts))
        except BadRequest as exc:
            log.debug("vote count edit skipped: %s", exc)
        except Forbidden:
            await rt.sessions.close_chat(session.chat_id, "chat unavailable")

    async def close_vote(self, session: Session, idx: int) -> bool:
        """The most voted candidate wins; a tie goes to the higher-ranked one; no votes: rank 1.

        The caller holds the session's lock. The part's deadline stays: the pick itself (one
        transaction with the next job) is what closes the vote, so a kill in between loses nothing.
        """
        counts = await self.rt.votes.counts(session.id, idx)
        winner = min(counts, key=lambda r: (-counts[r], r)) if counts else 1
        ok = await self.pick(session, idx, winner, None, source=PickSource.VOTE)
        if ok:
            await self.collapse(session, idx, winner)
        return ok

    async def close_due_votes(self) -> None:
        """Close every vote whose deadline has passed (the vote timer calls this every second)."""
        rt = self.rt
        for session_id, idx in await rt.votes.due(time.time()):
            try:
                async with rt.lock(session_id):
                    session = await rt.sessions.get(session_id)
                    seg_row = await rt.sessions.segment(session_id, idx)
                    if (not session or session.status != SessionStatus.CHOOSING or not seg_row
                            or seg_row.status != SegmentStatus.OFFERED):
                        continue
                    await self.close_vote(session, idx)
            except Forbidden:
                await rt.sessions.close_chat(session.chat_id, "chat unavailable")
            except Exception:  # one vote's trouble must not keep the others open
                log.exception("closing the vote on %s part %d failed", session_id, idx)
