"""Changing a finished dance and sending its versions again.

Under a dance, "Change a part" lists the parts (paged, with section names when the analysis
has them); a part's six candidates come back ranked on both of its neighbours; a pick queues
the render of a new version (the analysis, descriptors and the other picks are reused; only
the changed part's pieces of the video are made again, :mod:`choreo_engine.video.pieces`).
Every version is kept, and ``/history`` can send any of them again.

In groups the choosing rules hold: the song's starter opens the list and a part's offer; in
vote mode (``/mode vote``) everyone votes 1-6 on the new candidates (tapping again moves the
vote, the buttons show the counts) until the starter taps "Close vote" or the vote times out;
the most voted move wins, a tie the higher-ranked one, no votes the first.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from storage.rows import Button, ButtonAction, DanceVersion, PickMode, PickSource, Session, SessionStatus

from .. import worker
from ..texts import t
from .choosing import VOTE_EDIT_DELAY
from .messages import Messages, fmt_time, section_name, whose
from .runtime import Runtime
from .stages import song_descriptors

log = logging.getLogger(__name__)

CHANGE_ACTIONS = (ButtonAction.CHANGE, ButtonAction.CHANGE_PAGE, ButtonAction.CHANGE_PART, ButtonAction.CHANGE_PICK,
                  ButtonAction.CHANGE_CLOSE)
PARTS_PER_PAGE = 20
NUMBERS_PER_ROW = 5
NAMED_PER_ROW = 2  # "12 · Chorus" needs the room
HISTORY_SESSIONS_WITH_BUTTONS = 10
HISTORY_VERSIONS_PER_ROW = 6  # the newest ones


def section_names(analysis: dict, lang: str) -> list[str | None] | None:
    """The section name ("Chorus") of every part in ``lang``; None for an analysis stored
    before songs had sections."""
    if not analysis.get("sections"):
        return None
    return [section_name(lang, analysis, i) for i in range(len(analysis["segments"]))]


def parts_keyboard(part_buttons: list[Button], names: list[str | None] | None, page: int, pages: int,
                   nav: dict[int, Button]) -> InlineKeyboardMarkup:
    """One button per part of the page ("3" or "3 · Chorus"), then ◀ ▶ between pages."""
    per_row = NAMED_PER_ROW if names else NUMBERS_PER_ROW

    def label(b: Button) -> str:
        name = names[b.value] if names else None
        return f"{b.value + 1} · {name}" if name else f"{b.value + 1}"

    rows = [[InlineKeyboardButton(label(b), callback_data=b.token) for b in part_buttons[i:i + per_row]]
            for i in range(0, len(part_buttons), per_row)]
    arrows = [InlineKeyboardButton(text, callback_data=nav[target].token)
              for text, target in (("◀", page - 1), ("▶", page + 1)) if target in nav]
    if arrows:
        rows.append(arrows)
    return InlineKeyboardMarkup(rows)


def change_keyboard(lang: str, buttons: list[Button], current: int | None, close: Button | None = None,
                    counts: dict[int, int] | None = None) -> InlineKeyboardMarkup:
    """The new candidates 1-6 in rows of three (✓ on the move danced now, the vote counts when
    voted), then "Close vote" when the change is voted on."""
    def label(rank: int, b: Button) -> str:
        votes = counts.get(rank) if counts else None
        return f"{rank}" + (" ✓" if b.value == current else "") + (f" · {votes}" if votes else "")

    labels = [label(i + 1, b) for i, b in enumerate(buttons)]
    rows = [[InlineKeyboardButton(labels[j], callback_data=buttons[j].token) for j in range(i, min(i + 3, len(buttons)))]
            for i in range(0, len(buttons), 3)]
    if close is not None:
        rows.append([InlineKeyboardButton(t(lang, "btn_close"), callback_data=close.token)])
    return InlineKeyboardMarkup(rows)


def version_label(lang: str, version: DanceVersion) -> str:
    label = t(lang, "history_version", number=version.number, mode=t(lang, f"mode_{version.mode}"))
    if version.changed_part is not None:
        label += t(lang, "history_version_changed", part=version.changed_part + 1)
    return label


class Editing:
    def __init__(self, rt: Runtime, messages: Messages) -> None:
        self.rt = rt
        self.messages = messages
        self._vote_edits: set[tuple[str, int, int]] = set()

    async def handle_button(self, session: Session, button: Button, user_id: int, query: CallbackQuery) -> None:
        """A change or resend button (the caller holds the session's lock and checked who may press it)."""
        lang = session.language
        chat_id = query.message.chat.id if query.message else session.chat_id
        if button.action == ButtonAction.RESEND:
            await query.answer()
            await self.resend(session, button.value, chat_id)
            return
        if session.status != SessionStatus.DONE:
            busy = session.status == SessionStatus.RENDERING
            await query.answer(t(lang, "alert_busy" if busy else "alert_stale"), show_alert=True)
            return
        if button.action == ButtonAction.CHANGE:
            await query.answer()
            await self.list_parts(session, 0)
        elif button.action == ButtonAction.CHANGE_PAGE:
            await query.answer()
            await self.list_parts(session, button.value, query.message.message_id if query.message else None)
        elif button.action == ButtonAction.CHANGE_PART:
            await query.answer(t(lang, "alert_preparing"))
            await self.offer_change(session, button.value)
        elif button.action == ButtonAction.CHANGE_PICK:
            if await self.rt.versions.change_vote_open(session.id, button.idx):
                await self.vote(session, button, user_id, query)
            else:
                await self.change(session, button, user_id, query)
        elif button.action == ButtonAction.CHANGE_CLOSE:
            if await self.close_vote(session, button.idx, query.message.message_id if query.message else None):
                await query.answer()
            else:
                await query.answer(t(lang, "alert_stale"), show_alert=True)

    # ------------------------------------------------------------------ changing a part
    async def list_parts(self, session: Session, page: int, message_id: int | None = None) -> None:
        """The parts to choose from: a new message, or (paging) the same one edited."""
        rt = self.rt
        n = session.n_segments or 0
        pages = max(1, -(-n // PARTS_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        first = page * PARTS_PER_PAGE
        parts = list(range(first, min(n, first + PARTS_PER_PAGE)))
        part_buttons = await rt.sessions.make_buttons(session.id, None, [(ButtonAction.CHANGE_PART, i) for i in parts])
        targets = [p for p in (page - 1, page + 1) if 0 <= p < pages]
        nav_buttons = await rt.sessions.make_buttons(session.id, None, [(ButtonAction.CHANGE_PAGE, p) for p in targets])
        markup = parts_keyboard(part_buttons, section_names(session.song_analysis(), session.language), page, pages,
                                {b.value: b for b in nav_buttons})
        text = t(session.language, "change_which", song=html.escape(session.song_name), page=page + 1,
                 pages=pages) + whose(session)
        if message_id is None:
            await rt.bot.send_message(session.chat_id, text, reply_markup=markup, parse_mode="HTML")
        else:
            await rt.bot.edit_message_text(text, session.chat_id, message_id, reply_markup=markup, parse_mode="HTML")

    async def offer_change(self, session: Session, idx: int) -> None:
        """Part ``idx``'s candidates, ranked on the parts before and after it, as a preview."""
        rt = self.rt
        lang = session.language
        analysis = session.song_analysis()
        descriptors = await song_descriptors(rt, session, analysis)
        picked = await rt.sessions.picked_segment_ids(session.id)
        out = rt.session_dir(session.id) / f"change-{idx + 1:03d}.mp4"
        result = await rt.engine.run(worker.change_offer, analysis, descriptors, idx, picked, session.song_path,
                                     str(out), rt.settings.engine)
        if not result["candidates"]:
            await rt.bot.send_message(session.chat_id, t(lang, "change_nothing", part=idx + 1))
            return
        ids = [c["segment_id"] for c in result["candidates"]]
        buttons = await rt.versions.offer_change(session.id, idx, ids)
        close = None
        if not session.private and await rt.votes.chat_mode(session.chat_id) == PickMode.VOTE:
            close = await rt.versions.open_change_vote(session.id, idx, time.time() + rt.settings.vote_timeout_seconds)
        markup = change_keyboard(lang, buttons, picked[idx], close)
        seg = analysis["segments"][idx]
        names = section_names(analysis, lang)
        section = f" · {html.escape(names[idx])}" if names and names[idx] else ""
        caption = t(lang, "change_offer", part=idx + 1, total=session.n_segments, start=fmt_time(seg["start"]),
                    end=fmt_time(seg["end"]), section=section, song=html.escape(session.song_name)) + whose(session)
        if close is not None:
            caption += t(lang, "vote_hint", minutes=max(1, round(rt.settings.vote_timeout_seconds / 60)))
        if result["note"]:
            caption += t(lang, "offer_short", note=html.escape(result["note"]))
        with open(result["preview"], "rb") as fh:
            sent = await rt.bot.send_video(session.chat_id, fh, caption=caption, reply_markup=markup,
                                           parse_mode="HTML", supports_streaming=True,
                                           filename=f"change-part-{idx + 1}.mp4")
        if close is not None:  # closed by its deadline, the vote still shows its choice on this message
            await rt.versions.change_vote_on(session.id, idx, sent.message_id)

    async def change(self, session: Session, button: Button, user_id: int, query: CallbackQuery) -> None:
        """A pick among a part's new candidates: the new version is queued for rendering."""
        rt = self.rt
        lang = session.language
        rank = await rt.versions.change_rank(session.id, button.idx, button.token)
        if not rank or not await rt.versions.change_pick(session.id, button.idx, rank, button.value, user_id,
                                                         session.render_mode):
            await query.answer(t(lang, "alert_stale"), show_alert=True)
            return
        rt.wake.set()
        await query.answer("✓")
        if query.message:
            await self._picked_caption(session, button.idx, rank, query.message.message_id)

    async def _picked_caption(self, session: Session, idx: int, rank: int, message_id: int) -> None:
        """The change offer keeps only its choice."""
        caption = t(session.language, "change_picked", part=idx + 1, rank=rank) + whose(session)
        try:
            await self.rt.bot.edit_message_caption(chat_id=session.chat_id, message_id=message_id, caption=caption,
                                                   reply_markup=None, parse_mode="HTML")
        except TelegramError as exc:  # the change is recorded; only its caption did not change
            log.debug("change caption skipped: %s", exc)

    # ------------------------------------------------------------------ a group's vote on a change
    async def vote(self, session: Session, button: Button, user_id: int, query: CallbackQuery) -> None:
        """A vote on a part's new move; the offer's buttons show the counts (one edit per burst of taps)."""
        rt = self.rt
        rank = await rt.versions.change_rank(session.id, button.idx, button.token)
        if not rank or not await rt.versions.change_vote(session.id, button.idx, user_id, rank):
            await query.answer(t(session.language, "alert_stale"), show_alert=True)
            return
        await query.answer(t(session.language, "vote_counted", rank=rank))
        if query.message is not None:
            key = (session.id, button.idx, query.message.message_id)
            if key not in self._vote_edits:
                self._vote_edits.add(key)
                asyncio.get_running_loop().call_later(VOTE_EDIT_DELAY,
                                                      lambda: asyncio.ensure_future(self._show_votes(*key)))

    async def _show_votes(self, session_id: str, idx: int, message_id: int) -> None:
        rt = self.rt
        self._vote_edits.discard((session_id, idx, message_id))
        session = await rt.sessions.get(session_id)
        if session is None or not await rt.versions.change_vote_open(session_id, idx):
            return
        buttons = await rt.sessions.segment_buttons(session_id, idx)
        picks = [b for b in buttons if b.action == ButtonAction.CHANGE_PICK]
        close = next((b for b in buttons if b.action == ButtonAction.CHANGE_CLOSE), None)
        current = (await rt.sessions.picked_segment_ids(session_id))[idx]
        markup = change_keyboard(session.language, picks, current, close, await rt.votes.counts(session_id, idx))
        try:
            await rt.bot.edit_message_reply_markup(session.chat_id, message_id, reply_markup=markup)
        except TelegramError as exc:  # the votes are stored; only their counts are not shown
            log.debug("change vote count edit skipped: %s", exc)

    async def close_vote(self, session: Session, idx: int, message_id: int | None = None) -> bool:
        """The change vote's winner becomes the part's move and the new version is queued (the
        caller holds the session's lock); False when no vote is open on the part."""
        rt = self.rt
        if session.status != SessionStatus.DONE or not await rt.versions.change_vote_open(session.id, idx):
            return False
        counts = await rt.votes.counts(session.id, idx)
        rank = min(counts, key=lambda r: (-counts[r], r)) if counts else 1
        segment_id = await rt.versions.change_choice(session.id, idx, rank)
        if segment_id is None or not await rt.versions.change_pick(session.id, idx, rank, segment_id, None,
                                                                   session.render_mode, PickSource.VOTE):
            return False
        rt.wake.set()
        if message_id is not None:
            await self._picked_caption(session, idx, rank, message_id)
        return True

    async def close_due_votes(self) -> None:
        """Close every change vote whose deadline has passed (the vote timer calls this)."""
        rt = self.rt
        for session_id, idx, message_id in await rt.versions.due_change_votes(time.time()):
            try:
                async with rt.lock(session_id):
                    session = await rt.sessions.get(session_id)
                    if session is not None:
                        await self.close_vote(session, idx, message_id)
            except Exception:  # one vote's trouble must not keep the others open
                log.exception("closing the change vote on %s part %d failed", session_id, idx)

    # ------------------------------------------------------------------ versions
    async def resend(self, session: Session, number: int, chat_id: int) -> None:
        version = await self.rt.versions.get(session.id, number)
        lang = session.language
        if version is None:
            await self.rt.bot.send_message(chat_id, t(lang, "alert_stale"))
            return
        caption = t(lang, "resent", song=html.escape(session.song_name), version=version_label(lang, version))
        try:
            await self.messages.send_cached_video(chat_id, version.video_path, version.video_sha256, caption, None)
        except OSError:  # neither uploaded before nor on disk any more
            await self.rt.bot.send_message(chat_id, t(lang, "version_gone"))

    async def history_message(self, lang: str, private: bool, *, owner_id: int | None,
                              chat_id: int | None) -> tuple[str, InlineKeyboardMarkup | None]:
        """Finished dances, newest first, with their versions and a button per version to send it again."""
        rt = self.rt
        sessions = await rt.sessions.history(owner_id=owner_id, chat_id=chat_id)
        if not sessions:
            return t(lang, "history_empty"), None
        versions = await rt.versions.of_sessions([s.id for s in sessions])
        lines, rows = [], []
        for n, s in enumerate(sessions, 1):
            line = f"{n}. {html.escape(s.song_name)} — {(s.finished_at or '')[:10]}"
            if not private:
                line += f" ({html.escape(s.owner_name)})"
            if versions[s.id]:
                line += "\n    " + ", ".join(version_label(lang, v) for v in versions[s.id])
            lines.append(line)
            if versions[s.id] and len(rows) < HISTORY_SESSIONS_WITH_BUTTONS:
                buttons = await rt.sessions.make_buttons(
                    s.id, None, [(ButtonAction.RESEND, v.number) for v in versions[s.id][-HISTORY_VERSIONS_PER_ROW:]])
                rows.append([InlineKeyboardButton(f"{n} · v{b.value}", callback_data=b.token) for b in buttons])
        text = t(lang, "history" if private else "history_group", items="\n".join(lines))
        return text, InlineKeyboardMarkup(rows) if rows else None
